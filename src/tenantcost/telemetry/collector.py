"""One collector pass: statistics views -> per-tenant deltas -> ``tenant_usage_hourly``.

Everything a pass reads and writes happens in one transaction under an advisory lock:
the new ``pg_stat_statements`` snapshot, the counters it is compared with next time, and
the usage rows its deltas produced are committed together, so a pass that fails adds
nothing and a second pass straight after adds (almost) nothing — only what really ran in
between. Counter deltas are split across the UTC hours between the previous pass and this
one, in proportion to time (``split_across_hours``; gauges such as storage and peaks stay in
the hour of the pass).

Compute comes from the best signal available, and the pass says which
(``report.sources["compute"]``): the backend CPU sampler when the server's processes are
visible here (``backend_sampler``, measured per backend from the kernel), else
``pg_stat_kcache`` (getrusage per statement, planning included), else
``pg_stat_statements`` execution time (an estimate). On a Citus coordinator the pass also
reads ``citus_stat_tenants`` and every worker's own statistics
(``tenantcost.telemetry.citus_workers``), and the sampler follows the workers' backends
where they run on this machine: those sources rank first (README, "Compute: which source").
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql as pgsql
from psycopg.types.json import Jsonb

from tenantcost.config import Settings, get_settings
from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.telemetry import citus
from tenantcost.telemetry import citus_workers as workers
from tenantcost.telemetry import host as hostmod
from tenantcost.telemetry.deltas import (
    Counters,
    DeltaResult,
    StatementKey,
    counter_delta,
    statement_deltas,
)
from tenantcost.telemetry.mapping import TenantMap, load_map, sql
from tenantcost.telemetry.pgss_columns import kcache_query, missing_keys, pgss_query
from tenantcost.telemetry.sampler import CLUSTER_SOURCE, Accumulated, BackendSampler
from tenantcost.telemetry.sampler import SOURCE as SAMPLER_SOURCE
from tenantcost.telemetry.timeutil import add_months, hour_of, month_start, split_across_hours

# tenantcost's own tables that have a tenant_id column: never "shared tables".
OWN_TABLES = (
    "tenant_mapping",
    "tenant_cost_ledger",
    "telemetry_app_events",
    "tenant_usage_hourly",
)
MICRO = Decimal("0.000001")
GB = Decimal(10) ** 9
MAX_SPLIT = timedelta(hours=24)  # a longer gap is spread over its last 24 hours only


def ms_to_seconds(ms: float | Decimal) -> Decimal:
    """Milliseconds (float, as PostgreSQL reports them) to seconds, to the microsecond."""
    value = ms if isinstance(ms, Decimal) else Decimal(repr(ms))
    return max(Decimal(0), (value / 1000).quantize(MICRO))


def seconds(value: float) -> Decimal:
    return seconds_of(Decimal(repr(value)))


def seconds_of(value: Decimal) -> Decimal:
    return max(Decimal(0), value.quantize(MICRO))


@dataclass(frozen=True)
class UsageRow:
    hour: datetime
    tenant_id: UUID | None
    metric: str
    source: str
    quantity: Decimal


@dataclass
class PassReport:
    """What one pass did, for the CLI and ``telemetry_runs``."""

    hour: datetime
    started_at: datetime
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rows: list[UsageRow] = field(default_factory=list)
    host_rows: dict[str, Decimal] = field(default_factory=dict)
    statements_seen: int = 0
    duration_s: float = 0.0
    compute_source: str = ""
    since: datetime | None = None  # the previous pass: counters are spread from there
    sampler: dict[str, Any] = field(default_factory=dict)

    def per_tenant(self) -> dict[UUID | None, dict[str, tuple[Decimal, str]]]:
        """{tenant: {metric: (quantity, source)}} keeping the best source per metric; a
        counter's parts in several hours add up."""
        from tenantcost.telemetry.metrics import AGGREGATE, PRIORITY

        by_source: dict[tuple[UUID | None, str, str], Decimal] = {}
        for row in self.rows:
            key = (row.tenant_id, row.metric, row.source)
            if key not in by_source:
                by_source[key] = row.quantity
            elif AGGREGATE.get((row.metric, row.source)) == "add":
                by_source[key] += row.quantity
            else:
                by_source[key] = max(by_source[key], row.quantity)
        out: dict[UUID | None, dict[str, tuple[Decimal, str]]] = defaultdict(dict)
        for (tenant, metric, source), quantity in sorted(by_source.items(), key=repr):
            current = out[tenant].get(metric)
            rank = PRIORITY.get((metric, source), 99)
            if metric == "storage_bytes" and current is not None:
                out[tenant][metric] = (
                    current[0] + quantity,
                    "+".join(sorted({*current[1].split("+"), source})),
                )
            elif current is None or rank < PRIORITY.get((metric, current[1]), 99):
                out[tenant][metric] = (quantity, source)
        return dict(out)

    @property
    def hours(self) -> list[datetime]:
        """Every UTC hour this pass booked usage to (the pass's own hour included)."""
        return sorted({self.hour, *(r.hour for r in self.rows)})

    def summary(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "compute_source": self.compute_source,
            "statements_seen": self.statements_seen,
            "usage_rows": len(self.rows),
            "host": {k: str(v) for k, v in self.host_rows.items()},
            "duration_s": round(self.duration_s, 4),
            "sampler": self.sampler,
        }


class Collector:
    """Keeps what is worth keeping between passes in one process (the postmaster handle)."""

    def __init__(
        self,
        conn: Connection,
        *,
        settings: Settings | None = None,
        interval_s: float = 60.0,
        measure_host: bool = True,
        clock: Callable[[], float] = time.perf_counter,
        sampler: BackendSampler | None = None,
        retain: bool = True,
    ) -> None:
        """``retain=False``: passes that only measure (the demo's telemetry workload) leave
        evidence retention to the service's passes."""
        self.conn = conn
        self.retain = retain
        self.settings = settings or get_settings()
        self.interval_s = interval_s
        self.measure_host = measure_host
        self._clock = clock
        self._postmaster: Any = None
        self._postmaster_checked = False
        self.sampler = sampler

    # ---- the pass ----------------------------------------------------------------------
    def collect(self) -> PassReport:
        taken = self.sampler.take() if self.sampler is not None else None
        try:
            return self._collect(taken)
        except BaseException:
            if self.sampler is not None and taken is not None:
                self.sampler.restore(taken)  # nothing was written: keep it for the next pass
            raise

    def _collect(self, taken: Accumulated | None) -> PassReport:
        started = self._clock()
        conn = self.conn
        retained = self._retain_evidence() if self.retain else []
        with conn.transaction():
            conn.execute(sql("collector_lock"))
            row: Any = conn.execute(sql("now")).fetchone()
            now: datetime = row["now"].astimezone(UTC)
            report = PassReport(hour=hour_of(now), started_at=now)
            report.warnings += retained
            tenant_map = load_map(conn)
            names = self._object_names()
            state = {
                (r["source"], r["key"]): (r["data"], r["observed_at"])
                for r in conn.execute(sql("state_all")).fetchall()
            }
            weight = self._sample_weight(state, now)
            previous = state.get(("activity", "last_sample"))
            since = previous[1] if previous is not None else None
            self._statements(report, tenant_map, names, state)
            self._databases(report, tenant_map, state, now)
            self._activity(report, tenant_map, weight)
            self._storage(report, tenant_map)
            self._citus(report, tenant_map, state, now)
            if self.measure_host:
                self._host(report, state, now, weight)
            report.rows = spread_counters(
                report.rows,
                since if since is not None else now - timedelta(seconds=float(weight)),
                now,
            )
            self._sampled(report, taken)
            self._put_state("activity", "last_sample", {"at": now.isoformat()}, now)
            report.since = since
            self._write_usage(report)
            self._retention(report, now)
            report.duration_s = self._clock() - started
            conn.execute(
                sql("run_insert"),
                {
                    "started_at": now,
                    "hour": report.hour,
                    "summary": Jsonb(report.summary()),
                    "warnings": report.warnings,
                },
            )
        return report

    # ---- the backend sampler's seconds ------------------------------------------------
    def _sampled(self, report: PassReport, taken: Accumulated | None) -> None:
        kcache = report.sources.get("statements", "")
        running = self.sampler is not None and self.sampler.postmaster_pid is not None
        report.compute_source = choose_citus_compute_source(
            cluster_sampler=running and self.sampler is not None and bool(self.sampler.followers),
            worker_kcache="pg_stat_kcache" in report.sources.get("citus_workers", ""),
            stat_tenants=report.sources.get("citus", "").startswith(citus.SOURCE),
            worker_statements=" entries, " in report.sources.get("citus_workers", ""),
        ) or choose_compute_source(
            sampler_running=running,
            kcache="compute from pg_stat_kcache" in kcache,
            statements=kcache.startswith("pg_stat_statements"),
        )
        if self.sampler is None:
            report.sources["compute"] = f"{report.compute_source} (no backend sampler running)"
            return
        report.sources["compute"] = self.sampler.describe()
        if report.compute_source == SAMPLER_SOURCE and "statements" in report.sources:
            report.sources["statements"] += " (per-tenant compute: the backend sampler's)"
        if taken is None:
            return
        for r in taken.rows():
            report.rows.append(UsageRow(r.hour, r.tenant_id, r.metric, r.source, r.quantity))
        report.sampler = {
            "ticks": taken.ticks,
            "exited_unattributed_s": str(taken.exited.quantize(MICRO)),
            "exit_tails_estimated_s": str(taken.tails.quantize(MICRO)),
            "sampler_cpu_s": round(self.sampler.own_cpu_s, 4),
            "errors": self.sampler.errors,
        }
        if taken.exited:
            report.sources["compute"] += (
                f"; {taken.exited.quantize(MICRO)} s of CPU by processes that exited between "
                "ticks booked as unattributed"
            )
        if taken.tails:
            report.sources["compute"] += (
                f"; {taken.tails.quantize(MICRO)} s of exiting backends' last CPU estimated "
                "from their rate and given to their tenants"
            )

    # ---- helpers -----------------------------------------------------------------------
    def _object_names(self) -> dict[tuple[str, int], str]:
        rows = self.conn.execute(sql("object_names")).fetchall()
        return {(r["kind"], int(r["oid"])): r["name"] for r in rows}

    def _put_state(self, source: str, key: str, data: Mapping[str, Any], now: datetime) -> None:
        self.conn.execute(
            sql("state_upsert"),
            {"source": source, "key": key, "data": Jsonb(dict(data)), "observed_at": now},
        )

    def _sample_weight(
        self, state: Mapping[tuple[str, str], tuple[Any, datetime]], now: datetime
    ) -> Decimal:
        """Seconds a pg_stat_activity sample stands for: time since the previous sample,
        capped at two intervals (a gap while the collector was down is not filled in with
        what is connected now); the first sample stands for one interval."""
        previous = state.get(("activity", "last_sample"))
        if previous is None:
            return Decimal(repr(self.interval_s)).quantize(MICRO)
        elapsed = (now - previous[1]).total_seconds()
        return seconds(min(max(elapsed, 0.0), 2 * self.interval_s))

    def _extension(self, name: str, conn: Connection | None = None) -> tuple[str, str] | None:
        row = (conn or self.conn).execute(sql("extension"), {"name": name}).fetchone()
        return (row["schema"], row["version"]) if row else None

    def _columns(self, relation: str, conn: Connection | None = None) -> list[str]:
        rows = (conn or self.conn).execute(sql("view_columns"), {"relation": relation}).fetchall()
        return [r["name"] for r in rows]

    # ---- pg_stat_statements ------------------------------------------------------------
    def _statements(
        self,
        report: PassReport,
        tenant_map: TenantMap,
        names: Mapping[tuple[str, int], str],
        state: Mapping[tuple[str, str], tuple[Any, datetime]],
    ) -> None:
        ext = self._extension("pg_stat_statements")
        if ext is None:
            report.sources["statements"] = (
                "unavailable: the pg_stat_statements extension is not created in this database "
                "(CREATE EXTENSION pg_stat_statements; needs shared_preload_libraries)"
            )
            report.warnings.append(report.sources["statements"])
            return
        schema, version = ext
        columns = self._columns(f'"{schema}".pg_stat_statements')
        lacking = missing_keys(columns)
        if lacking:
            report.sources["statements"] = f"unavailable: view lacks {', '.join(lacking)}"
            report.warnings.append(report.sources["statements"])
            return
        try:
            with self.conn.transaction():
                current = self._read_pgss(schema, columns)
                info = self._read_info(schema)
        except psycopg.Error as exc:
            reason = (exc.diag.message_primary or str(exc)).strip()
            report.sources["statements"] = f"unavailable: {reason}"
            report.warnings.append(f"statement stats unavailable: {reason}")
            return
        cpu_source = self._kcache(current, report)
        report.statements_seen = len(current)
        pgss_state = state.get(("pg_stat_statements", "info"))
        previous = self._read_snapshot() if pgss_state is not None else None
        before = pgss_state[0] if pgss_state else {}
        result = statement_deltas(
            previous,
            current,
            global_reset=bool(before) and before.get("stats_reset") != info["stats_reset"],
            dealloc_before=before.get("dealloc"),
            dealloc_now=info["dealloc"],
        )
        report.warnings.extend(result.warnings())
        report.sources["statements"] = (
            f"pg_stat_statements {version} ({len(current)} entries); compute from {cpu_source}"
        )
        report.rows.extend(
            statement_usage(result, tenant_map, names, report.hour, cpu_measured=cpu_source)
        )
        self._write_snapshot(current)
        self._put_state("pg_stat_statements", "info", info, report.started_at)

    def _read_pgss(
        self, schema: str, columns: list[str], conn: Connection | None = None
    ) -> dict[StatementKey, Counters]:
        rows = (conn or self.conn).execute(pgss_query(schema, columns)).fetchall()
        return {StatementKey.from_row(r): Counters.from_row(r) for r in rows}

    def _read_info(self, schema: str, conn: Connection | None = None) -> dict[str, Any]:
        if not self._columns(f'"{schema}".pg_stat_statements_info', conn):
            return {"dealloc": None, "stats_reset": None}
        row: Any = (
            (conn or self.conn)
            .execute(f'SELECT dealloc, stats_reset FROM "{schema}".pg_stat_statements_info')
            .fetchone()
        )
        reset = row["stats_reset"]
        return {"dealloc": int(row["dealloc"]), "stats_reset": reset.isoformat() if reset else None}

    def _kcache(
        self,
        current: dict[StatementKey, Counters],
        report: PassReport,
        conn: Connection | None = None,
    ) -> str:
        conn = conn or self.conn
        ext = self._extension("pg_stat_kcache", conn)
        if ext is None:
            return "pg_stat_statements execution time (pg_stat_kcache not installed: an estimate)"
        schema, version = ext
        try:
            with conn.transaction():
                probe = conn.execute(f'SELECT * FROM "{schema}".pg_stat_kcache() LIMIT 0')
                cols = [d.name for d in probe.description or []]
                rows = conn.execute(kcache_query(schema, cols)).fetchall()
        except psycopg.Error as exc:
            report.warnings.append(
                f"pg_stat_kcache unreadable ({exc.diag.message_primary}): using execution time"
            )
            return "pg_stat_statements execution time (pg_stat_kcache unreadable: an estimate)"
        for r in rows:
            key = StatementKey.from_row(r)
            if key in current:
                c = current[key]
                current[key] = replace(
                    c, cpu_user_s=float(r["cpu_user_s"]), cpu_system_s=float(r["cpu_system_s"])
                )
        return f"pg_stat_kcache {version} CPU time (measured)"

    def _read_snapshot(self) -> dict[StatementKey, Counters]:
        rows = self.conn.execute(sql("snapshot_all")).fetchall()
        return {StatementKey.from_row(r): Counters.from_row(r) for r in rows}

    def _write_snapshot(self, current: Mapping[StatementKey, Counters]) -> None:
        self.conn.execute(sql("snapshot_clear"))
        with self.conn.cursor().copy(sql("snapshot_copy")) as copy:
            for key, c in current.items():
                copy.write_row((key.dbid, key.userid, key.queryid, key.toplevel, *c.values()))

    # ---- pg_stat_database (per-database tenants) -----------------------------------------
    def _databases(
        self,
        report: PassReport,
        tenant_map: TenantMap,
        state: Mapping[tuple[str, str], tuple[Any, datetime]],
        now: datetime,
    ) -> None:
        if not tenant_map.databases:
            return
        rows = self.conn.execute(
            sql("pg_stat_database"), {"names": list(tenant_map.databases)}
        ).fetchall()
        for r in rows:
            tenant = tenant_map.databases[r["datname"]]
            reset = r["stats_reset"].isoformat() if r["stats_reset"] else None
            now_counters = {
                "session_time": float(r["session_time"] or 0),
                "active_time": float(r["active_time"] or 0),
                "stats_reset": reset,
            }
            prev = state.get(("pg_stat_database", r["datname"]))
            self._put_state("pg_stat_database", r["datname"], now_counters, now)
            if prev is None:
                continue  # baseline for this database
            before = prev[0] if prev[0].get("stats_reset") == reset else {}
            for metric, column in (
                ("connection_seconds", "session_time"),
                ("active_seconds", "active_time"),
            ):
                delta = counter_delta(before.get(column), now_counters[column])  # type: ignore[arg-type]
                report.rows.append(
                    UsageRow(report.hour, tenant, metric, "pg_stat_database", ms_to_seconds(delta))
                )
        report.sources["databases"] = f"pg_stat_database for {len(rows)} tenant databases"

    # ---- pg_stat_activity ------------------------------------------------------------
    def _activity(self, report: PassReport, tenant_map: TenantMap, weight: Decimal) -> None:
        counts: dict[UUID | None, list[int]] = defaultdict(lambda: [0, 0])
        for r in self.conn.execute(sql("activity")).fetchall():
            tenant = tenant_map.resolve(r["datname"], r["usename"])
            counts[tenant][0] += 1
            counts[tenant][1] += r["state"] == "active"
        footprint = self.settings.connection_memory_mb
        for tenant, (connections, active) in counts.items():
            report.rows.extend(
                [
                    UsageRow(
                        report.hour,
                        tenant,
                        "connection_seconds",
                        "pg_stat_activity",
                        weight * connections,
                    ),
                    UsageRow(
                        report.hour, tenant, "active_seconds", "pg_stat_activity", weight * active
                    ),
                    UsageRow(
                        report.hour,
                        tenant,
                        "connections_peak",
                        "pg_stat_activity",
                        Decimal(connections),
                    ),
                    UsageRow(
                        report.hour, tenant, "memory_mb_peak", "modelled", footprint * connections
                    ),
                ]
            )
        report.sources["activity"] = (
            f"pg_stat_activity sample x {weight} s; memory modelled at {footprint} MB/connection"
        )

    # ---- storage -----------------------------------------------------------------------
    def _storage(self, report: PassReport, tenant_map: TenantMap) -> None:
        hour = report.hour
        for query, owners, key, source in (
            ("database_sizes", tenant_map.databases, "datname", "database_size"),
            ("schema_sizes", tenant_map.schemas, "schema", "schema_size"),
        ):
            if not owners:
                continue
            for r in self.conn.execute(sql(query), {"names": list(owners)}).fetchall():
                report.rows.append(
                    UsageRow(hour, owners[r[key]], "storage_bytes", source, Decimal(r["bytes"]))
                )
        if tenant_map.shared:
            shares = self._shared_storage(tenant_map.shared, report)
            for tenant, nbytes in shares.items():
                report.rows.append(
                    UsageRow(hour, tenant, "storage_bytes", "shared_row_share", nbytes)
                )

    def _shared_storage(self, tenants: frozenset[UUID], report: PassReport) -> dict[UUID, Decimal]:
        threshold = self.settings.storage_sample_rows
        totals: dict[UUID, Decimal] = dict.fromkeys(tenants, Decimal(0))
        tables = self.conn.execute(sql("shared_tables"), {"exclude": list(OWN_TABLES)}).fetchall()
        sampled = 0
        for t in tables:
            if not t["bytes"]:
                continue
            ident = f'"{t["schema"]}"."{t["name"]}"'
            clause = ""
            if t["est_rows"] > threshold:
                percent = max(Decimal("0.01"), Decimal(100 * threshold) / Decimal(t["est_rows"]))
                clause = f" TABLESAMPLE SYSTEM ({min(percent, Decimal(100)):.4f}) REPEATABLE (42)"
                sampled += 1
            counts = self.conn.execute(
                f"SELECT tenant_id, count(*) AS n FROM {ident}{clause} GROUP BY tenant_id"
            ).fetchall()
            for tenant, nbytes in row_share_bytes(
                {r["tenant_id"]: int(r["n"]) for r in counts}, int(t["bytes"])
            ).items():
                if tenant in totals:
                    totals[tenant] += nbytes
        report.sources["shared_storage"] = (
            f"row share of {len(tables)} shared tables ({sampled} sampled with TABLESAMPLE "
            f"above {threshold} rows): an estimate"
        )
        return totals

    # ---- Citus: the workers' per-tenant CPU, queries and shard storage -------------------
    def _citus(
        self,
        report: PassReport,
        tenant_map: TenantMap,
        state: Mapping[tuple[str, str], tuple[Any, datetime]],
        now: datetime,
    ) -> None:
        if self._extension("citus") is None:
            return
        weights: dict[int, dict[UUID, tuple[Decimal, Decimal]]] = {}
        try:
            with self.conn.transaction():  # a savepoint: a refusal here spoils nothing else
                rows = self._citus_pass(report, state, now, weights)
            report.rows.extend(rows)  # only once its state is written with it
        except psycopg.Error as exc:
            weights.clear()
            detail = exc.diag.message_primary or str(exc).strip().splitlines()[0]
            report.sources["citus"] = f"unavailable: {detail}"
            report.warnings.append(
                f"Citus per-tenant figures skipped: {detail} (tenantcost's role needs to run "
                "citus_stat_tenants and citus_shard_sizes, e.g. as a member of pg_monitor or the owner)"
            )
        self._citus_workers(report, tenant_map, state, now, weights)

    def _citus_pass(
        self,
        report: PassReport,
        state: Mapping[tuple[str, str], tuple[Any, datetime]],
        now: datetime,
        weights: dict[int, dict[UUID, tuple[Decimal, Decimal]]],
    ) -> list[UsageRow]:
        """The Citus figures of this pass; its period state is written in the same savepoint.
        ``weights`` receives each tenant's (CPU, queries) growth per node (for the workers'
        shared shards)."""
        rows: list[UsageRow] = []
        periods, period_s, track, period = citus.read_periods(self.conn)
        if track == "none":
            report.warnings.append(
                "citus.stat_tenants_track is 'none': set it to 'all' on every node to measure "
                "each tenant's queries and CPU on the workers"
            )
        previous = state.get((citus.SOURCE, "periods"))
        grown, keep, skipped = citus.growth(
            previous[0]["tenants"] if previous else {},
            int(previous[0]["period"]) if previous else None,
            periods,
            period,
        )
        tenants = citus.known_tenants(self.conn, [g.attribute for g in grown])
        for g in grown:
            tenant = tenants.get(g.attribute)  # not a companies.id: booked unattributed
            rows.append(
                UsageRow(report.hour, tenant, "query_count", citus.SOURCE, Decimal(g.queries))
            )
            rows.append(
                UsageRow(report.hour, tenant, "compute_seconds", citus.SOURCE, g.cpu_seconds)
            )
            if tenant is not None:
                cpu, queries = weights.setdefault(g.node, {}).get(tenant, (Decimal(0), Decimal(0)))
                weights[g.node][tenant] = (cpu + g.cpu_seconds, queries + g.queries)
        self._put_state(citus.SOURCE, "periods", {"period": period, "tenants": keep}, now)
        if skipped:
            report.warnings.append(
                f"citus_stat_tenants: more than one {period_s} s period since the previous "
                "pass, part of it lost: collect more often or raise citus.stat_tenants_period"
            )
        from tenantcost.db.citus import OWN_DISTRIBUTED  # (psycopg: not at import time)

        # tenantcost's own tables are no tenant's data once `db distribute` placed them
        storage, tables = citus.storage_by_tenant(self.conn, (*OWN_TABLES, *OWN_DISTRIBUTED))
        for tenant, nbytes in storage.items():
            rows.append(
                UsageRow(report.hour, tenant, "storage_bytes", citus.STORAGE_SOURCE, nbytes)
            )
        report.sources["citus"] = (
            f"citus_stat_tenants ({len(periods)} tenant-node rows, {period_s} s periods, "
            f"single-tenant queries only); shard share of {tables} distributed tables"
        )
        return rows

    def _citus_workers(
        self,
        report: PassReport,
        tenant_map: TenantMap,
        state: Mapping[tuple[str, str], tuple[Any, datetime]],
        now: datetime,
        weights: Mapping[int, Mapping[UUID, tuple[Decimal, Decimal]]],
    ) -> None:
        """Every active worker's pg_stat_statements / pg_stat_kcache, attributed by mapping,
        then by shard (``tenantcost.telemetry.citus_workers``); each node's snapshot kept
        apart in ``telemetry_state``."""
        try:
            with self.conn.transaction():
                nodes = self.conn.execute(sql("citus_worker_nodes")).fetchall()
        except psycopg.Error as exc:
            report.sources["citus_workers"] = f"unavailable: {exc.diag.message_primary}"
            return
        if not nodes:
            return
        described: list[str] = []
        shard_map: tuple[dict[int, workers.Shard], workers.TenantHashes] | None = None
        started = self._clock()
        for node in nodes:
            label = f"{node['nodename']}:{node['nodeport']}"
            try:
                with workers.connect_worker(
                    workers.worker_conninfo(
                        self.conn, node["nodename"], int(node["nodeport"]), self.settings
                    )
                ) as wconn:
                    read = self._worker_statements(wconn, report, label)
                    if read is None:
                        described.append(f"{label}: no pg_stat_statements")
                        continue
                    previous = state.get((workers.STATE_SOURCE, label))
                    before = previous[0]["info"] if previous else {}
                    result = statement_deltas(
                        workers.snapshot_from_state(previous[0]) if previous else None,
                        read.current,
                        global_reset=bool(before)
                        and before.get("stats_reset") != read.info["stats_reset"],
                        dealloc_before=before.get("dealloc"),
                        dealloc_now=read.info["dealloc"],
                    )
                    mapped = {
                        key: tenant_map.resolve(
                            read.names.get(("database", key.dbid)),
                            read.names.get(("role", key.userid)),
                        )
                        for key in result.deltas
                    }
                    wanted = [k for k, t in mapped.items() if t is None and k.toplevel]
                    texts = workers.read_texts(wconn, read.schema, wanted, read.database_oid)
            except psycopg.Error as exc:
                detail = exc.diag.message_primary or str(exc).strip().splitlines()[0]
                report.warnings.append(
                    f"Citus worker {label} not read: {detail} (its counters are kept for the "
                    "next pass; set TENANTCOST_CITUS_WORKER_URL to reach the workers)"
                )
                described.append(f"{label}: unreachable")
                continue
            report.warnings.extend(f"worker {label}: {w}" for w in result.warnings())
            if texts and shard_map is None:
                shard_map = workers.read_shards(self.conn)
            shards, hashes = shard_map or ({}, workers.TenantHashes([], []))
            split = workers.attribute(
                result.deltas,
                mapped=mapped,
                texts=texts,
                database_oid=read.database_oid,
                shards=shards,
                tenants=hashes,
                weights=weights.get(int(node["nodeid"]), {}),
            )
            report.rows.extend(
                weighted_usage(
                    split.parts,
                    report.hour,
                    source=workers.SOURCE,
                    cpu_source=workers.KCACHE_SOURCE,
                )
            )
            self._put_state(
                workers.STATE_SOURCE, label, workers.snapshot_state(read.current, read.info), now
            )
            described.append(
                f"{label}: {len(read.current)} entries, {read.cpu_source}; {split.describe()}"
            )
        report.sources["citus_workers"] = (
            "; ".join(described) + f" (read in {self._clock() - started:.2f} s)"
        )

    def _worker_statements(
        self, wconn: Connection, report: PassReport, label: str
    ) -> workers.WorkerRead | None:
        """One worker's statement counters, as the local collector reads its own."""
        ext = self._extension("pg_stat_statements", wconn)
        if ext is None:
            report.warnings.append(
                f"Citus worker {label}: pg_stat_statements is not created in this database "
                "(CREATE EXTENSION on the coordinator creates it on the workers too)"
            )
            return None
        schema, _version = ext
        columns = self._columns(f'"{schema}".pg_stat_statements', wconn)
        current = self._read_pgss(schema, columns, wconn)
        info = self._read_info(schema, wconn)
        cpu_source = self._kcache(current, report, wconn)
        row: Any = wconn.execute(sql("database_oid")).fetchone()
        names = {
            (r["kind"], int(r["oid"])): r["name"]
            for r in wconn.execute(sql("object_names")).fetchall()
        }
        return workers.WorkerRead(current, info, cpu_source, schema, int(row["oid"]), names)

    # ---- host --------------------------------------------------------------------------
    def _host(
        self,
        report: PassReport,
        state: Mapping[tuple[str, str], tuple[Any, datetime]],
        now: datetime,
        weight: Decimal,
    ) -> None:
        row: Any = self.conn.execute(sql("cluster_size")).fetchone()
        report.host_rows["storage_bytes"] = Decimal(row["bytes"])
        if not self._postmaster_checked:
            self._postmaster = hostmod.find_postmaster(self.conn)
            self._postmaster_checked = True
        sample = hostmod.sample(self._postmaster) if self._postmaster is not None else None
        if sample is None:
            report.sources["host"] = (
                "cluster size only: the server's processes are not visible on this machine"
            )
            return
        prev = state.get(("host", "postmaster"))
        same = (
            prev is not None
            and prev[0].get("pid") == sample.postmaster_pid
            and prev[0].get("create_time") == sample.create_time
        )
        self._put_state(
            "host",
            "postmaster",
            {
                "pid": sample.postmaster_pid,
                "create_time": sample.create_time,
                "cpu_seconds": sample.cpu_seconds,
            },
            now,
        )
        if prev is not None:
            before = prev[0]["cpu_seconds"] if same else None
            report.host_rows["cpu_seconds"] = seconds(counter_delta(before, sample.cpu_seconds))
        report.host_rows["memory_gb_seconds"] = (
            Decimal(sample.memory_bytes) / GB * weight
        ).quantize(MICRO)
        report.host_rows["rss_bytes_peak"] = Decimal(sample.memory_bytes)
        report.sources["host"] = f"psutil: postmaster pid {sample.postmaster_pid} and its children"

    # ---- writing -----------------------------------------------------------------------
    def _write_usage(self, report: PassReport) -> None:
        since, now = report.since, report.started_at
        rows = merge_rows(report.rows)
        report.rows = rows
        first: dict[datetime, datetime] = {}
        for h in sorted(report.hours):
            first.setdefault(month_start(h), h)
        for at in first.values():  # the earliest hour written in each month
            self.conn.execute(sql("ensure_partition"), {"at": at})
        if rows:
            batch = {
                "hours": [r.hour for r in rows],
                "tenants": [r.tenant_id for r in rows],
                "metrics": [r.metric for r in rows],
                "sources": [r.source for r in rows],
                "quantities": [r.quantity for r in rows],
            }
            for aggregate in ("add", "max", "last"):  # one statement per kind (usage_upsert)
                upsert = pgsql.SQL(sql("usage_upsert")).format(aggregate=pgsql.Literal(aggregate))
                self.conn.execute(upsert, batch)
            # every upserted row changes its hour (no conflict is skipped): its day re-prices
            self.conn.execute(sql("usage_days_mark"), {"hours": sorted({r.hour for r in rows})})
        if report.host_rows:
            label = hostmod.host_label(self.conn)
            start = max(since, now - MAX_SPLIT) if since is not None else now
            items: list[tuple[datetime, str, Decimal]] = []
            for metric, value in report.host_rows.items():
                if metric in ("cpu_seconds", "memory_gb_seconds"):
                    parts = split_across_hours(start, now, value)
                    items += [(h, metric, q) for h, q in parts.items()]
                else:
                    items.append((report.hour, metric, value))
            self.conn.execute(
                sql("host_upsert"),
                {
                    "hours": [h for h, _, _ in items],
                    "hosts": [label] * len(items),
                    "metrics": [m for _, m, _ in items],
                    "quantities": [q for _, _, q in items],
                },
            )

    def _retention(self, report: PassReport, now: datetime) -> None:
        keep_from = add_months(month_start(now), -(self.settings.usage_retention_months - 1))
        self.conn.execute(sql("app_events_retention"), {"before": keep_from})

    def _retain_evidence(self) -> list[str]:
        """Evidence retention before the pass (its own transactions, one per UTC day: see
        ``tenantcost.telemetry.retention``); what it did, as the pass's warnings."""
        from tenantcost.telemetry.retention import apply_retention

        with self.conn.transaction():
            row: Any = self.conn.execute(sql("now")).fetchone()
        try:
            done = apply_retention(self.conn, row["now"].astimezone(UTC), self.settings)
        except (psycopg.DatabaseError, UserError) as exc:
            # The day that failed was rolled back whole; collecting goes on, the next pass
            # tries again.
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return [f"retention stopped: {first}"]
        return done.messages(self.settings)


def choose_compute_source(*, sampler_running: bool, kcache: bool, statements: bool) -> str:
    """Which source measures compute this pass, best first (pure): the backend sampler,
    then pg_stat_kcache, then pg_stat_statements execution time."""
    if sampler_running:
        return SAMPLER_SOURCE
    if kcache:
        return "pg_stat_kcache"
    if statements:
        return "pg_stat_statements"
    return "none"


def choose_citus_compute_source(
    *, cluster_sampler: bool, worker_kcache: bool, stat_tenants: bool, worker_statements: bool
) -> str:
    """On a Citus coordinator, the best source that measured the workers this pass (pure):
    the sampler over coordinator and workers, the workers' pg_stat_kcache,
    citus_stat_tenants, the workers' execution time; "" when none did (not Citus)."""
    for measured, source in (
        (cluster_sampler, CLUSTER_SOURCE),
        (worker_kcache, workers.KCACHE_SOURCE),
        (stat_tenants, citus.SOURCE),
        (worker_statements, workers.SOURCE),
    ):
        if measured:
            return source
    return ""


def spread_counters(rows: Iterable[UsageRow], since: datetime, now: datetime) -> list[UsageRow]:
    """Counter rows (aggregate ``add``) booked to the pass's hour, spread over the UTC hours
    from the previous pass to this one in proportion to time (pure). Gauges stay. A gap
    longer than 24 hours is spread over its last 24 hours."""
    from tenantcost.telemetry.metrics import AGGREGATE, METRICS

    start = max(since, now - MAX_SPLIT)
    out: list[UsageRow] = []
    for r in rows:
        if AGGREGATE.get((r.metric, r.source)) != "add" or hour_of(start) == hour_of(now):
            out.append(r)
            continue
        info = METRICS.get((r.metric, r.source))
        places = Decimal(1) if info is not None and info.unit != "second" else MICRO
        for hour, part in split_across_hours(start, now, r.quantity, places=places).items():
            if part:
                out.append(UsageRow(hour, r.tenant_id, r.metric, r.source, part))
    return out


def row_share_bytes(counts: Mapping[UUID | None, int], table_bytes: int) -> dict[UUID, Decimal]:
    """Each tenant's share of a table's bytes by its share of (sampled) rows (pure)."""
    total = sum(counts.values())
    if total == 0:
        return {}
    size = Decimal(table_bytes)
    return {
        tenant: (size * n / total).quantize(Decimal(1))
        for tenant, n in counts.items()
        if tenant is not None
    }


def statement_usage(
    result: DeltaResult,
    tenant_map: TenantMap,
    names: Mapping[tuple[str, int], str],
    hour: datetime,
    *,
    cpu_measured: str = "",
) -> list[UsageRow]:
    """Per-tenant usage rows from statement deltas (pure). Only top-level statements count:
    a nested statement's time is already inside its caller's."""
    per: dict[UUID | None, list[tuple[Counters, Decimal]]] = defaultdict(list)
    for key, delta in result.deltas.items():
        if not key.toplevel:
            continue
        tenant = tenant_map.resolve(
            names.get(("database", key.dbid)), names.get(("role", key.userid))
        )
        per[tenant].append((delta, Decimal(1)))
    return weighted_usage(per, hour, source="pg_stat_statements", cpu_source="pg_stat_kcache")


def weighted_usage(
    per: Mapping[UUID | None, Iterable[tuple[Counters, Decimal]]],
    hour: datetime,
    *,
    source: str,
    cpu_source: str,
) -> list[UsageRow]:
    """Usage rows from each tenant's statement deltas, each taken at a weight (its share of
    an entry shared with other tenants; 1 for a whole entry) (pure). Execution time, calls,
    rows, read time, blocks and WAL under ``source``; CPU (kcache) under ``cpu_source``."""

    def total(values: Iterable[tuple[float, Decimal]]) -> Decimal:
        return sum((Decimal(repr(v)) * w for v, w in values), Decimal(0))

    def count(values: Iterable[tuple[int, Decimal]]) -> Decimal:
        out = sum((Decimal(v) * w for v, w in values), Decimal(0))
        return out.quantize(Decimal(1) if out == out.to_integral_value() else MICRO)

    rows: list[UsageRow] = []
    for tenant, items in per.items():
        parts = list(items)
        exec_ms = total((d.exec_ms + d.plan_ms, w) for d, w in parts)
        rows += [
            UsageRow(hour, tenant, "compute_seconds", source, ms_to_seconds(exec_ms)),
            UsageRow(hour, tenant, "query_count", source, count((d.calls, w) for d, w in parts)),
            UsageRow(hour, tenant, "rows", source, count((d.rows, w) for d, w in parts)),
            UsageRow(
                hour,
                tenant,
                "io_read_seconds",
                source,
                ms_to_seconds(total((d.io_read_ms, w) for d, w in parts)),
            ),
            UsageRow(
                hour,
                tenant,
                "shared_blks_read",
                source,
                count((d.shared_blks_read, w) for d, w in parts),
            ),
            UsageRow(
                hour,
                tenant,
                "shared_blks_hit",
                source,
                count((d.shared_blks_hit, w) for d, w in parts),
            ),
            UsageRow(hour, tenant, "wal_bytes", source, count((d.wal_bytes, w) for d, w in parts)),
        ]
        cpu = [(d, w) for d, w in parts if d.cpu_user_s is not None]
        if cpu:
            used = total(((d.cpu_user_s or 0.0) + (d.cpu_system_s or 0.0), w) for d, w in cpu)
            rows.append(UsageRow(hour, tenant, "compute_seconds", cpu_source, seconds_of(used)))
    return rows


def merge_rows(rows: Iterable[UsageRow]) -> list[UsageRow]:
    """One row per (hour, tenant, metric, source): an upsert may touch a row only once.
    Counters add; gauges (peak, storage) keep the largest / last value."""
    from tenantcost.telemetry.metrics import AGGREGATE

    merged: dict[tuple[datetime, UUID | None, str, str], Decimal] = {}
    for r in rows:
        key = (r.hour, r.tenant_id, r.metric, r.source)
        if key not in merged:
            merged[key] = r.quantity
        elif AGGREGATE.get((r.metric, r.source)) == "add":
            merged[key] += r.quantity
        elif AGGREGATE.get((r.metric, r.source)) == "max":
            merged[key] = max(merged[key], r.quantity)
        else:
            merged[key] = merged[key] + r.quantity if r.metric == "storage_bytes" else r.quantity
    return [UsageRow(h, t, m, s, q) for (h, t, m, s), q in merged.items()]


def collect_once(
    conn: Connection, *, settings: Settings | None = None, interval_s: float = 60.0
) -> PassReport:
    """One pass with a fresh Collector (the CLI's ``collect``)."""
    return Collector(conn, settings=settings, interval_s=interval_s).collect()


__all__ = [
    "Collector",
    "PassReport",
    "UsageRow",
    "choose_citus_compute_source",
    "choose_compute_source",
    "collect_once",
    "merge_rows",
    "row_share_bytes",
    "spread_counters",
    "statement_usage",
]
