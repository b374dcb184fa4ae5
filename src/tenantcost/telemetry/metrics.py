"""The metric catalogue in Python, mirroring ``telemetry_metrics`` (a test keeps them equal).

(metric, source) -> (unit, kind, aggregate, priority). kind says how much to trust it:
measured (read from a counter), modelled (computed from a setting), estimated (a proxy or
a sample). When several sources give a metric for one tenant-hour the lowest priority wins,
except storage_bytes, whose sources are different objects and add up.
"""

from __future__ import annotations

from typing import NamedTuple


class MetricInfo(NamedTuple):
    unit: str
    kind: str
    aggregate: str
    priority: int


METRICS: dict[tuple[str, str], MetricInfo] = {
    # migration 0012 (issue 12): kernel CPU per backend, the best compute source
    ("compute_seconds", "backend_sampler"): MetricInfo("second", "measured", "add", 0),
    ("background_cpu_seconds", "backend_sampler"): MetricInfo("second", "measured", "add", 0),
    # migration 0021 (issue 16): a Citus cluster's workers, per tenant (single-tenant queries)
    ("compute_seconds", "citus_stat_tenants"): MetricInfo("second", "measured", "add", -1),
    ("query_count", "citus_stat_tenants"): MetricInfo("query", "measured", "add", 0),
    ("storage_bytes", "citus_shard_share"): MetricInfo("byte", "estimated", "last", 1),
    # migration 0028 (issue 16): the workers' own pg_stat_kcache / pg_stat_statements
    ("compute_seconds", "citus_cluster_sampler"): MetricInfo("second", "measured", "add", -3),
    ("background_cpu_seconds", "citus_cluster_sampler"): MetricInfo(
        "second", "measured", "add", -3
    ),
    ("compute_seconds", "citus_worker_kcache"): MetricInfo("second", "measured", "add", -2),
    ("compute_seconds", "citus_worker_statements"): MetricInfo("second", "estimated", "add", -1),
    ("query_count", "citus_worker_statements"): MetricInfo("query", "measured", "add", 2),
    ("rows", "citus_worker_statements"): MetricInfo("row", "measured", "add", 2),
    ("io_read_seconds", "citus_worker_statements"): MetricInfo("second", "measured", "add", 0),
    ("shared_blks_read", "citus_worker_statements"): MetricInfo("block", "measured", "add", 0),
    ("shared_blks_hit", "citus_worker_statements"): MetricInfo("block", "measured", "add", 0),
    ("wal_bytes", "citus_worker_statements"): MetricInfo("byte", "measured", "add", 0),
    ("compute_seconds", "pg_stat_kcache"): MetricInfo("second", "measured", "add", 1),
    ("compute_seconds", "pg_stat_statements"): MetricInfo("second", "estimated", "add", 2),
    ("compute_seconds", "app"): MetricInfo("second", "estimated", "add", 3),
    ("query_count", "pg_stat_statements"): MetricInfo("query", "measured", "add", 1),
    ("query_count", "app"): MetricInfo("query", "measured", "add", 2),
    ("rows", "pg_stat_statements"): MetricInfo("row", "measured", "add", 1),
    ("rows", "app"): MetricInfo("row", "measured", "add", 2),
    ("io_read_seconds", "pg_stat_statements"): MetricInfo("second", "measured", "add", 1),
    ("shared_blks_read", "pg_stat_statements"): MetricInfo("block", "measured", "add", 1),
    ("shared_blks_hit", "pg_stat_statements"): MetricInfo("block", "measured", "add", 1),
    ("wal_bytes", "pg_stat_statements"): MetricInfo("byte", "measured", "add", 1),
    ("egress_bytes", "app"): MetricInfo("byte", "estimated", "add", 1),
    ("connection_seconds", "pg_stat_database"): MetricInfo("second", "measured", "add", 1),
    ("connection_seconds", "pg_stat_activity"): MetricInfo("second", "estimated", "add", 2),
    ("active_seconds", "pg_stat_database"): MetricInfo("second", "measured", "add", 1),
    ("active_seconds", "pg_stat_activity"): MetricInfo("second", "estimated", "add", 2),
    ("connections_peak", "pg_stat_activity"): MetricInfo("connection", "measured", "max", 1),
    ("memory_mb_peak", "modelled"): MetricInfo("MB", "modelled", "max", 1),
    ("storage_bytes", "database_size"): MetricInfo("byte", "measured", "last", 1),
    ("storage_bytes", "schema_size"): MetricInfo("byte", "measured", "last", 1),
    ("storage_bytes", "shared_row_share"): MetricInfo("byte", "estimated", "last", 1),
    # migration 0010: demo usage (`tenantcost demo run`), ranked below every real source
    ("compute_seconds", "demo"): MetricInfo("second", "modelled", "add", 9),
    ("connection_seconds", "demo"): MetricInfo("second", "modelled", "add", 9),
    ("storage_bytes", "demo"): MetricInfo("byte", "modelled", "last", 9),
    ("egress_bytes", "demo"): MetricInfo("byte", "modelled", "add", 9),
    ("query_count", "demo"): MetricInfo("query", "modelled", "add", 9),
}

PRIORITY = {key: info.priority for key, info in METRICS.items()}
AGGREGATE = {key: info.aggregate for key, info in METRICS.items()}
SUMMED_SOURCES = frozenset({"storage_bytes"})


def best_sources(
    available: dict[str, dict[str, object]],
) -> dict[str, list[str]]:
    """{metric: sources to use} from {metric: {source: anything}}: the best-priority source,
    or every source for metrics whose sources add up (pure)."""
    chosen: dict[str, list[str]] = {}
    for metric, sources in available.items():
        if metric in SUMMED_SOURCES:
            chosen[metric] = sorted(sources)
        else:
            chosen[metric] = [min(sources, key=lambda s: (PRIORITY.get((metric, s), 99), s))]
    return chosen
