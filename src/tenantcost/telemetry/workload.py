"""A deterministic workload for several tenants with known ratios, on a real server.

Used by the accuracy benchmark, the integration tests and the demo (``make run``): each
tenant runs ``units`` fixed-cost queries (``SELECT count(*) FROM generate_series(1, N)``:
the same CPU work every time, no I/O), so tenant A with 4x B's units should be attributed
4x B's compute, and a tenant with 0 units ~nothing.

Two modes, the two ways tenants show up in PostgreSQL:

- ``database``: each tenant has its own database (``tcwl_<name>``, created if missing and
  mapped), queries run there and the collector attributes them from pg_stat_statements.
- ``shared``: every tenant's queries run in tenantcost's own database through the tagging
  library (``with tenant(id)``), and rows are written to a shared table
  ``tenantcost_workload_rows(tenant_id, …)`` in proportion to the units, so storage is
  attributed by row share too.

``run_workload`` takes a collector baseline before driving and collects (and flushes the
tagging recorder) after, so the work shows up as one pass's deltas.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import psycopg

from tenantcost.db.connect import Connection, connect
from tenantcost.telemetry.collector import Collector, PassReport
from tenantcost.telemetry.mapping import map_tenant
from tenantcost.telemetry.tagging import (
    PostgresSink,
    Recorder,
    RecorderStats,
    tagged_connect,
    tenant,
)

Mode = Literal["database", "shared"]
DEFAULT_QUERY_ROWS = 200_000
WORK_QUERY = "SELECT count(*) FROM generate_series(1, %s)"
SHARED_TABLE = "tenantcost_workload_rows"
ROWS_PER_UNIT = 200


@dataclass(frozen=True)
class TenantLoad:
    """A tenant and how many fixed-cost queries it runs (0 = idle)."""

    tenant_id: UUID
    name: str
    units: int


@dataclass
class WorkloadResult:
    mode: Mode
    loads: list[TenantLoad]
    query_rows: int
    seconds: dict[UUID, float] = field(default_factory=dict)  # client-side wall time
    baseline: PassReport | None = None
    after: PassReport | None = None
    recorder: RecorderStats | None = None

    def driven_shares(self) -> dict[UUID, float]:
        total = sum(load.units for load in self.loads)
        return {load.tenant_id: load.units / total if total else 0.0 for load in self.loads}


def database_name(load: TenantLoad) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", load.name.lower()).strip("_")[:30] or "tenant"
    return f"tcwl_{slug}_{load.tenant_id.hex[:8]}"


def _url_for(url: str, database: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items() if v is not None})


def prepare(url: str, loads: Sequence[TenantLoad], mode: Mode) -> None:
    """Create and map what the mode needs (idempotent)."""
    with connect(url, autocommit=True) as conn:
        for load in loads:
            if mode == "database":
                name = database_name(load)
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{name}"')
                map_tenant(conn, str(load.tenant_id), "database", name)
            else:
                map_tenant(conn, str(load.tenant_id), "shared", None)
        if mode == "shared":
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {SHARED_TABLE} ("
                "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL, "
                "payload text NOT NULL)"
            )


def _rounds(loads: Sequence[TenantLoad]) -> list[TenantLoad]:
    """Round-robin order (A, B, A, B, A, A, …): tenants' queries interleave, so noise from
    other work on the machine lands on every tenant alike instead of on whoever ran then."""
    order: list[TenantLoad] = []
    for i in range(max((load.units for load in loads), default=0)):
        order.extend(load for load in loads if load.units > i)
    return order


def _drive(
    conns: dict[UUID, psycopg.Connection[Any]], loads: Sequence[TenantLoad], query_rows: int
) -> dict[UUID, float]:
    """Run every tenant's queries round-robin, each on its tenant's connection (tagged
    with the tenant in shared mode, where all tenants share one connection)."""
    seconds = {load.tenant_id: 0.0 for load in loads}
    for load in _rounds(loads):
        with tenant(load.tenant_id):
            start = time.perf_counter()
            conns[load.tenant_id].execute(WORK_QUERY, (query_rows,))
            seconds[load.tenant_id] += time.perf_counter() - start
    return seconds


def _shared_rows(conn: psycopg.Connection[Any], loads: Sequence[TenantLoad]) -> None:
    for load in loads:
        if load.units:
            with tenant(load.tenant_id):
                conn.execute(
                    f"INSERT INTO {SHARED_TABLE} (tenant_id, payload) "
                    "SELECT %s, repeat('x', 100) FROM generate_series(1, %s)",
                    (load.tenant_id, load.units * ROWS_PER_UNIT),
                )


def run_workload(
    url: str,
    loads: Sequence[TenantLoad],
    *,
    mode: Mode = "database",
    query_rows: int = DEFAULT_QUERY_ROWS,
    interval_s: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> WorkloadResult:
    """Prepare, open and warm up connections, take a collector baseline, drive every tenant
    round-robin, flush the tagging recorder, collect again."""
    say = progress or (lambda _message: None)
    result = WorkloadResult(mode, list(loads), query_rows)
    prepare(url, loads, mode)
    recorder: Recorder | None = None
    conns: dict[UUID, psycopg.Connection[Any]] = {}
    try:
        if mode == "database":
            for load in loads:
                if load.units:  # an idle tenant does not even connect
                    conns[load.tenant_id] = psycopg.connect(
                        _url_for(url, database_name(load)), autocommit=True
                    )
        else:
            recorder = Recorder(PostgresSink(url), flush_interval=1.0)
            app = tagged_connect(url, recorder, autocommit=True)
            conns = dict.fromkeys((load.tenant_id for load in loads if load.units), app)
        # Warm-up outside the measured window (and untagged): a new backend's first query
        # pays for loading catalog caches, which would penalise tenants with few queries.
        for conn in {id(c): c for c in conns.values()}.values():
            conn.execute(WORK_QUERY, (query_rows,))
        with connect(url, autocommit=True) as tc:
            # it measures the driven queries; rolling up old evidence is the service's job
            collector = Collector(tc, interval_s=interval_s, retain=False)
            result.baseline = collector.collect()
            plan = ", ".join(f"{load.name} {load.units}" for load in loads)
            say(f"{mode} mode, queries per tenant: {plan}")
            result.seconds = _drive(conns, loads, query_rows)
            if mode == "shared" and conns:
                _shared_rows(next(iter(conns.values())), loads)
            if recorder is not None:
                result.recorder = recorder.close()
                recorder = None
            result.after = collector.collect()
    finally:
        for conn in {id(c): c for c in conns.values()}.values():
            conn.close()
        if recorder is not None:
            recorder.close()
    return result


def demo_loads(
    tenants: Sequence[tuple[UUID, str]], units: Sequence[int] = (40, 10, 0)
) -> list[TenantLoad]:
    """The demo's ratios: the first tenant 4x the second, the third idle."""
    return [TenantLoad(tid, name, n) for (tid, name), n in zip(tenants, units, strict=False)]


def pick_demo_tenants(conn: Connection, count: int = 3) -> list[tuple[UUID, str]]:
    """The first ``count`` companies by name (deterministic for a given fleet)."""
    rows = conn.execute("SELECT id, name FROM companies ORDER BY name, id LIMIT %s", (count,))
    return [(r["id"], r["name"]) for r in rows.fetchall()]
