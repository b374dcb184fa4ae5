"""The pg_stat_statements column map for PostgreSQL 15, 16, 17 and 18."""

from __future__ import annotations

import pytest

from tenantcost.telemetry.pgss_columns import (
    KCACHE_MAP,
    choose_columns,
    kcache_query,
    missing_keys,
    pgss_query,
)

# Column sets as the PostgreSQL documentation lists them (pg_stat_statements 1.10 in 15 and
# 16, 1.11 in 17, 1.12 in 18), written out here rather than taken from the code.
PG15 = [
    "userid",
    "dbid",
    "toplevel",
    "queryid",
    "query",
    "plans",
    "total_plan_time",
    "min_plan_time",
    "max_plan_time",
    "mean_plan_time",
    "stddev_plan_time",
    "calls",
    "total_exec_time",
    "min_exec_time",
    "max_exec_time",
    "mean_exec_time",
    "stddev_exec_time",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "shared_blks_dirtied",
    "shared_blks_written",
    "local_blks_hit",
    "local_blks_read",
    "local_blks_dirtied",
    "local_blks_written",
    "temp_blks_read",
    "temp_blks_written",
    "blk_read_time",
    "blk_write_time",
    "temp_blk_read_time",
    "temp_blk_write_time",
    "wal_records",
    "wal_fpi",
    "wal_bytes",
    "jit_functions",
    "jit_generation_time",
    "jit_inlining_count",
    "jit_inlining_time",
    "jit_optimization_count",
    "jit_optimization_time",
    "jit_emission_count",
    "jit_emission_time",
]
PG16 = list(PG15)
PG17 = [
    {"blk_read_time": "shared_blk_read_time", "blk_write_time": "shared_blk_write_time"}.get(c, c)
    for c in PG15
] + [
    "local_blk_read_time",
    "local_blk_write_time",
    "jit_deform_count",
    "jit_deform_time",
    "stats_since",
    "minmax_stats_since",
]
PG18 = [*PG17, "wal_buffers_full", "parallel_workers_to_launch", "parallel_workers_launched"]


@pytest.mark.parametrize(
    ("columns", "io_column", "since"),
    [
        (PG15, "blk_read_time", None),
        (PG16, "blk_read_time", None),
        (PG17, "shared_blk_read_time", "stats_since"),
        (PG18, "shared_blk_read_time", "stats_since"),
    ],
    ids=["pg15", "pg16", "pg17", "pg18"],
)
def test_columns_chosen_per_version(columns: list[str], io_column: str, since: str | None) -> None:
    chosen = choose_columns(columns)
    assert chosen["io_read_ms"] == io_column
    assert chosen["stats_since"] == since
    assert chosen["exec_ms"] == "total_exec_time"
    assert chosen["plan_ms"] == "total_plan_time"
    assert chosen["toplevel"] == "toplevel"
    assert chosen["wal_bytes"] == "wal_bytes"
    assert missing_keys(columns) == []
    sql = pgss_query("public", columns)
    assert f'"{io_column}" AS io_read_ms' in sql
    assert "pg_stat_statements(false)" in sql  # no query texts read
    if since is None:
        assert "NULL::timestamptz AS stats_since" in sql
        assert "shared_blk_read_time" not in sql
    else:
        assert '"stats_since" AS stats_since' in sql
        assert '"blk_read_time"' not in sql


def test_old_total_time_and_missing_columns_fall_back() -> None:
    columns = ["userid", "dbid", "queryid", "calls", "total_time", "rows"]
    chosen = choose_columns(columns)
    assert chosen["exec_ms"] == "total_time"
    assert chosen["toplevel"] is None
    sql = pgss_query("ext", columns)
    assert "true AS toplevel" in sql
    assert "0 AS wal_bytes" in sql
    assert '"ext".pg_stat_statements(false)' in sql


def test_missing_key_columns_are_reported() -> None:
    assert missing_keys(["userid", "calls"]) == ["dbid", "queryid"]


def test_kcache_22_and_21_column_names() -> None:
    v22 = ["queryid", "top", "userid", "dbid", "plan_user_time", "plan_system_time",
           "exec_user_time", "exec_system_time"]  # fmt: skip
    v21 = ["queryid", "userid", "dbid", "user_time", "system_time"]
    sql22 = kcache_query("public", v22)
    assert '"top" AS toplevel' in sql22
    assert 'coalesce("exec_user_time", 0) + coalesce("plan_user_time", 0)' in sql22
    sql21 = kcache_query("public", v21)
    assert "true AS toplevel" in sql21
    assert 'coalesce("user_time", 0) + 0' in sql21
    assert choose_columns(v21, KCACHE_MAP)["exec_system_s"] == "system_time"
