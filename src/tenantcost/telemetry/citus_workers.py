"""A Citus cluster's workers read directly: their ``pg_stat_statements`` / ``pg_stat_kcache``.

On a Citus coordinator the tenants' queries run on the workers, where ``pg_stat_statements``
keeps one entry per shard query (``… FROM public.app_messages_102069 app_messages …``),
under the user and database the coordinator's session connected with. ``collect`` connects
to every active worker (``pg_dist_node``; the coordinator URL's user, password and database
at the node's host and port, or the ``citus_worker_url`` setting), takes the deltas of that
worker's counters against its own previous snapshot (a worker's counters reset on their own:
``tenantcost.telemetry.deltas`` handles resets and evictions per node), and attributes each
top-level entry's delta:

1. **mapped**: by the tenant mapping (the worker's database, then role), as the local
   collector does;
2. **by shard**: an entry in the coordinator's database that Citus marked as a
   single-tenant query (its text carries the ``/*{"cId":…,"tId":…}*/`` comment Citus adds
   when ``citus.stat_tenants_track`` is ``all``) names the shards it ran on
   (``<table>_<shardid>``); the tenants of a shard are the ``companies.id`` values whose hash
   falls in its range (``pg_dist_shard``, ``worker_hash``):

   - one tenant (a tenant isolated to its own shard, or the only company hashed there): all
     of it, exact;
   - several: split by each of them's share of the CPU ``citus_stat_tenants`` measured on
     that worker node in the same pass (its query share when no CPU was measured): that is the
     CPU each tenant's queries used on that very node, the closest weight for the shard's
     kernel CPU. When none of them has a figure there, the delta is **unattributed**;

3. **unattributed** (tenant NULL): everything else — the pieces of multi-shard queries (no
   tenant comment: a fan-out's work on one shard is not that shard's tenants' doing), Citus's
   own maintenance and tenantcost's reads, entries of other databases.

The first pass on a worker is a baseline (nothing booked). A worker that cannot be reached is
skipped with a warning and its snapshot kept: the next pass books both intervals at once.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from tenantcost.config import Settings
from tenantcost.db.connect import Connection
from tenantcost.telemetry.deltas import COUNTER_COLUMNS, Counters, StatementKey
from tenantcost.telemetry.mapping import sql

SOURCE = "citus_worker_statements"
KCACHE_SOURCE = "citus_worker_kcache"
STATE_SOURCE = "citus_worker"

# Citus's comment on a single-tenant query when citus.stat_tenants_track is not 'none'.
TENANT_COMMENT = re.compile(r'/\*\{"cId":\s*-?\d+,\s*"tId":')
# A relation name followed by _<shardid>; the id is checked against pg_dist_shard.
SHARD_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_$]*)_(\d{1,19})(?![A-Za-z0-9_$])")
PREFIX = 20  # Citus shortens long shard names (name prefix + hash + id): compare a prefix


@dataclass(frozen=True)
class Shard:
    """A shard of a hash-distributed table keyed by a uuid (the tenant's companies.id)."""

    shard_id: int
    relation: str
    low: int
    high: int


@dataclass(frozen=True)
class TenantHashes:
    """The tenants' distribution hashes, sorted (``worker_hash(companies.id)``)."""

    hashes: Sequence[int]
    tenants: Sequence[UUID]

    @classmethod
    def of(cls, pairs: Iterable[tuple[UUID, int]]) -> TenantHashes:
        ordered = sorted(pairs, key=lambda p: (p[1], str(p[0])))
        return cls([h for _, h in ordered], [t for t, _ in ordered])

    def in_range(self, low: int, high: int) -> frozenset[UUID]:
        lo = bisect.bisect_left(self.hashes, low)
        hi = bisect.bisect_right(self.hashes, high)
        return frozenset(self.tenants[lo:hi])


def single_tenant(text: str | None) -> bool:
    """True when Citus marked the query as one tenant's (pure)."""
    return text is not None and TENANT_COMMENT.search(text) is not None


def shards_in(text: str, shards: Mapping[int, Shard]) -> frozenset[int]:
    """The shard ids a worker query's text names (pure): ``<relation>_<shardid>`` tokens whose
    id is a known shard of that relation (a prefix of the name, as Citus shortens long ones)."""
    found: set[int] = set()
    for name, digits in SHARD_NAME.findall(text):
        shard = shards.get(int(digits))
        if shard is not None and name[:PREFIX] == shard.relation[:PREFIX]:
            found.add(shard.shard_id)
    return frozenset(found)


def shares(
    tenants: frozenset[UUID], weights: Mapping[UUID, tuple[Decimal, Decimal]]
) -> dict[UUID, Decimal] | None:
    """How a shard's delta divides among its tenants (pure): all to a lone tenant; otherwise
    by their CPU on the node in this pass (``weights``: tenant -> (cpu, queries)), by their
    queries when no CPU was measured; None when none of them has a figure (unattributed)."""
    if len(tenants) == 1:
        return {next(iter(tenants)): Decimal(1)}
    for index in (0, 1):
        total = sum((weights[t][index] for t in tenants if t in weights), Decimal(0))
        if total > 0:
            return {
                t: weights[t][index] / total
                for t in sorted(tenants, key=str)
                if t in weights and weights[t][index] > 0
            }
    return None


@dataclass(frozen=True)
class WorkerRead:
    """One worker's counters (kcache CPU merged where installed), its pg_stat_statements
    info, what measured CPU, where the view lives, its database's oid and its names of
    databases and roles (by oid: a worker's oids are its own)."""

    current: dict[StatementKey, Counters]
    info: dict[str, Any]
    cpu_source: str
    schema: str
    database_oid: int
    names: dict[tuple[str, int], str]


@dataclass
class Attribution:
    """Per (tenant, weight) the deltas, and how many entries went which way."""

    parts: dict[UUID | None, list[tuple[Counters, Decimal]]]
    mapped: int = 0
    by_shard_alone: int = 0
    by_shard_split: int = 0
    unattributed: int = 0

    def describe(self) -> str:
        return (
            f"{self.mapped} mapped, {self.by_shard_alone} by a shard with one tenant, "
            f"{self.by_shard_split} split among a shard's tenants, "
            f"{self.unattributed} unattributed"
        )


def attribute(
    deltas: Mapping[StatementKey, Counters],
    *,
    mapped: Mapping[StatementKey, UUID | None],
    texts: Mapping[StatementKey, str],
    database_oid: int,
    shards: Mapping[int, Shard],
    tenants: TenantHashes,
    weights: Mapping[UUID, tuple[Decimal, Decimal]],
) -> Attribution:
    """Each top-level delta to its tenant(s) (pure; see the module's rules). ``mapped``: the
    tenant the mapping resolves for each key (None when it resolves none)."""
    out = Attribution(parts={})

    def book(tenant: UUID | None, delta: Counters, weight: Decimal = Decimal(1)) -> None:
        out.parts.setdefault(tenant, []).append((delta, weight))

    for key, delta in deltas.items():
        if not key.toplevel:
            continue  # a nested statement's time is inside its caller's
        tenant = mapped.get(key)
        if tenant is not None:
            book(tenant, delta)
            out.mapped += 1
            continue
        text = texts.get(key)
        owners: frozenset[UUID] = frozenset()
        split = None
        if key.dbid == database_oid and text is not None and single_tenant(text):
            for shard_id in shards_in(text, shards):
                shard = shards[shard_id]
                owners |= tenants.in_range(shard.low, shard.high)
            split = shares(owners, weights) if owners else None
        if not split:
            book(None, delta)
            out.unattributed += 1
            continue
        for owner, weight in split.items():
            book(owner, delta, weight)
        if len(owners) == 1:
            out.by_shard_alone += 1
        else:
            out.by_shard_split += 1
    return out


def snapshot_state(
    current: Mapping[StatementKey, Counters], info: Mapping[str, Any]
) -> dict[str, Any]:
    """A worker's counters as JSON for ``telemetry_state`` (its next pass subtracts them)."""
    entries = []
    for key, c in current.items():
        *numbers, since = c.values()
        entries.append([*key, *numbers, since.isoformat() if since is not None else None])
    return {"info": dict(info), "entries": entries}


def snapshot_from_state(data: Mapping[str, Any]) -> dict[StatementKey, Counters]:
    """The inverse of ``snapshot_state`` (pure)."""
    out: dict[StatementKey, Counters] = {}
    for e in data.get("entries", []):
        row = dict(zip(COUNTER_COLUMNS, e[4:], strict=True))
        since = row["stats_since"]
        row["stats_since"] = None if since is None else datetime.fromisoformat(since)
        out[StatementKey(int(e[0]), int(e[1]), int(e[2]), bool(e[3]))] = Counters.from_row(row)
    return out


# ---- reading (connections to the workers, the coordinator's shard map) ---------------------
def worker_conninfo(coordinator: Connection, host: str, port: int, settings: Settings) -> str:
    """How to reach a worker: ``citus_worker_url`` with ``{host}``/``{port}`` filled in, else
    the coordinator connection's user, password and database at the worker's host and port
    (Citus itself connects to the workers as the session's user)."""
    if settings.citus_worker_url:
        return settings.citus_worker_url.replace("{host}", host).replace("{port}", str(port))
    params = conninfo_to_dict(coordinator.info.dsn)
    params.pop("hostaddr", None)
    if coordinator.info.password:
        params["password"] = coordinator.info.password
    return make_conninfo("", **{**params, "host": host, "port": str(port)})


def connect_worker(conninfo: str) -> psycopg.Connection[dict[str, Any]]:
    """An autocommit connection to a worker (``worker_conninfo``)."""
    return psycopg.connect(
        conninfo,
        autocommit=True,
        row_factory=dict_row,
        connect_timeout=10,
        application_name="tenantcost collector",
    )


def read_texts(
    worker: Connection, schema: str, keys: Iterable[StatementKey], database_oid: int
) -> dict[StatementKey, str]:
    """The query texts of ``keys`` in the worker's own database (only those: shard names mean
    something only there)."""
    wanted = {k for k in keys if k.dbid == database_oid}
    if not wanted:
        return {}
    rows = worker.execute(
        f"SELECT dbid::bigint AS dbid, userid::bigint AS userid, queryid, toplevel, query "
        f'FROM "{schema}".pg_stat_statements(true) '
        "WHERE dbid = %(db)s AND queryid = ANY(%(ids)s)",
        {"db": database_oid, "ids": sorted({k.queryid for k in wanted})},
    ).fetchall()
    out: dict[StatementKey, str] = {}
    for r in rows:
        key = StatementKey.from_row(r)
        if key in wanted and r["query"] is not None:
            out[key] = str(r["query"])
    return out


def read_shards(coordinator: Connection) -> tuple[dict[int, Shard], TenantHashes]:
    """The shards of hash-distributed tables keyed by a uuid, and every tenant's hash."""
    shards = {
        int(r["shard_id"]): Shard(int(r["shard_id"]), r["relation"], int(r["low"]), int(r["high"]))
        for r in coordinator.execute(sql("citus_uuid_shards")).fetchall()
    }
    hashes = TenantHashes.of(
        (r["id"], int(r["hash"])) for r in coordinator.execute(sql("citus_tenant_hashes"))
    )
    return shards, hashes
