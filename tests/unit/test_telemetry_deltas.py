"""Statement deltas: normal growth, resets, counters going down, evictions, baseline."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from tenantcost.telemetry.collector import (
    UsageRow,
    merge_rows,
    ms_to_seconds,
    row_share_bytes,
    statement_usage,
)
from tenantcost.telemetry.deltas import (
    Counters,
    StatementKey,
    counter_delta,
    dealloc_delta,
    statement_deltas,
)
from tenantcost.telemetry.mapping import TenantMap
from tenantcost.telemetry.retention import parse_bounds

K1 = StatementKey(dbid=1, userid=10, queryid=111, toplevel=True)
K2 = StatementKey(dbid=1, userid=10, queryid=222, toplevel=True)
K3 = StatementKey(dbid=2, userid=20, queryid=333, toplevel=True)
T0 = datetime(2025, 11, 1, tzinfo=UTC)
T1 = datetime(2025, 11, 2, tzinfo=UTC)


def test_growth_is_the_difference() -> None:
    prev = {K1: Counters(calls=10, exec_ms=100.0, rows=10)}
    cur = {K1: Counters(calls=15, exec_ms=160.0, rows=16)}
    result = statement_deltas(prev, cur)
    assert result.deltas[K1].calls == 5  # 15 - 10
    assert result.deltas[K1].exec_ms == 60.0  # 160 - 100
    assert result.deltas[K1].rows == 6
    assert result.reset_entries == 0 and not result.warnings()


def test_unchanged_entry_yields_no_delta() -> None:
    snap = {K1: Counters(calls=3, exec_ms=1.5)}
    assert statement_deltas(snap, dict(snap)).deltas == {}


def test_counter_going_down_counts_from_zero() -> None:
    prev = {K1: Counters(calls=100, exec_ms=1000.0)}
    cur = {K1: Counters(calls=4, exec_ms=40.0)}  # reset, then 4 calls
    result = statement_deltas(prev, cur)
    assert result.deltas[K1].calls == 4
    assert result.deltas[K1].exec_ms == 40.0
    assert result.reset_entries == 1
    assert any("counted from zero" in w for w in result.warnings())


def test_any_single_counter_going_down_is_a_reset() -> None:
    prev = {K1: Counters(calls=10, exec_ms=100.0, rows=50)}
    cur = {K1: Counters(calls=12, exec_ms=120.0, rows=5)}  # rows went down
    result = statement_deltas(prev, cur)
    assert result.deltas[K1].calls == 12 and result.reset_entries == 1


def test_changed_stats_since_is_a_reset_even_if_counters_grew() -> None:
    prev = {K1: Counters(calls=10, exec_ms=100.0, stats_since=T0)}
    cur = {K1: Counters(calls=30, exec_ms=300.0, stats_since=T1)}
    result = statement_deltas(prev, cur)
    assert result.deltas[K1].calls == 30  # everything since the new stats_since
    assert result.reset_entries == 1


def test_global_reset_counts_every_entry_from_zero() -> None:
    prev = {K1: Counters(calls=10, exec_ms=100.0), K2: Counters(calls=5, exec_ms=5.0)}
    cur = {K1: Counters(calls=12, exec_ms=120.0)}
    result = statement_deltas(prev, cur, global_reset=True)
    assert result.deltas[K1].calls == 12  # not 12 - 10
    assert result.vanished_entries == 1
    assert result.global_reset and any("reset" in w for w in result.warnings())


def test_new_entry_counts_from_zero() -> None:
    prev = {K1: Counters(calls=1, exec_ms=1.0)}
    cur = {K1: Counters(calls=1, exec_ms=1.0), K3: Counters(calls=7, exec_ms=70.0)}
    result = statement_deltas(prev, cur)
    assert result.deltas == {K3: Counters(calls=7, exec_ms=70.0)}
    assert result.new_entries == 1


def test_first_pass_is_a_baseline() -> None:
    result = statement_deltas(None, {K1: Counters(calls=1000, exec_ms=1.0)})
    assert result.baseline and result.deltas == {}
    assert any("baseline" in w for w in result.warnings())


def test_evictions_are_reported_as_possible_undercount() -> None:
    prev = {K1: Counters(calls=1)}
    result = statement_deltas(prev, {K1: Counters(calls=2)}, dealloc_before=3, dealloc_now=10)
    assert result.evicted == 7  # 10 - 3
    assert any("undercount" in w and "7" in w for w in result.warnings())


def test_dealloc_delta_edges() -> None:
    assert dealloc_delta(None, 5) == 0  # nothing to compare with yet
    assert dealloc_delta(5, 5) == 0
    assert dealloc_delta(5, 2) == 2  # info reset: 2 since then
    assert dealloc_delta(5, None) == 0


def test_counter_delta() -> None:
    assert counter_delta(None, 5.0) == 5.0
    assert counter_delta(2.0, 5.0) == 3.0
    assert counter_delta(9.0, 4.0) == 4.0  # went down: from zero


def test_cpu_seconds_delta_when_kcache_present() -> None:
    prev = {K1: Counters(calls=1, cpu_user_s=1.0, cpu_system_s=0.5)}
    cur = {K1: Counters(calls=2, cpu_user_s=1.75, cpu_system_s=0.75)}
    d = statement_deltas(prev, cur).deltas[K1]
    assert (d.cpu_user_s, d.cpu_system_s) == (0.75, 0.25)


# ---- attribution of deltas to tenants ----------------------------------------------------
A = UUID("00000000-0000-0000-0000-00000000000a")
B = UUID("00000000-0000-0000-0000-00000000000b")
HOUR = datetime(2025, 11, 21, 10, tzinfo=UTC)
NAMES = {
    ("database", 1): "db_a",
    ("database", 2): "shared_db",
    ("role", 10): "app",
    ("role", 20): "role_b",
}


def test_database_first_then_role() -> None:
    tmap = TenantMap(databases={"db_a": A}, roles={"role_b": B, "app": B})
    assert tmap.resolve("db_a", "app") == A  # the database wins over the role
    assert tmap.resolve("shared_db", "role_b") == B
    assert tmap.resolve("shared_db", "nobody") is None


def test_statement_usage_per_tenant_and_top_level_only() -> None:
    tmap = TenantMap(databases={"db_a": A}, roles={"role_b": B})
    nested = StatementKey(dbid=1, userid=10, queryid=999, toplevel=False)
    result = statement_deltas(
        {},
        {
            K1: Counters(calls=3, exec_ms=1500.0, plan_ms=500.0, rows=30),
            K2: Counters(calls=1, exec_ms=250.0, rows=1),
            K3: Counters(calls=2, exec_ms=100.0, rows=4),
            nested: Counters(calls=50, exec_ms=9999.0),  # inside K1's time already
        },
    )
    rows = {
        (r.tenant_id, r.metric, r.source): r.quantity
        for r in statement_usage(result, tmap, NAMES, HOUR)
    }
    # A: K1 + K2 (database db_a): (1500 + 500 + 250) ms = 2.25 s, 3 + 1 calls, 31 rows
    assert rows[(A, "compute_seconds", "pg_stat_statements")] == Decimal("2.25")
    assert rows[(A, "query_count", "pg_stat_statements")] == 4
    assert rows[(A, "rows", "pg_stat_statements")] == 31
    # B: K3 via role_b in an unmapped database: 100 ms
    assert rows[(B, "compute_seconds", "pg_stat_statements")] == Decimal("0.1")
    assert (A, "compute_seconds", "pg_stat_kcache") not in rows  # no kcache counters


def test_merge_rows_adds_counters_and_keeps_peaks() -> None:
    rows = [
        UsageRow(HOUR, A, "query_count", "app", Decimal(2)),
        UsageRow(HOUR, A, "query_count", "app", Decimal(3)),
        UsageRow(HOUR, A, "connections_peak", "pg_stat_activity", Decimal(4)),
        UsageRow(HOUR, A, "connections_peak", "pg_stat_activity", Decimal(2)),
        UsageRow(HOUR, A, "storage_bytes", "database_size", Decimal(100)),
        UsageRow(HOUR, A, "storage_bytes", "database_size", Decimal(50)),  # a 2nd database
    ]
    merged = {(r.metric): r.quantity for r in merge_rows(rows)}
    assert merged == {"query_count": 5, "connections_peak": 4, "storage_bytes": 150}


def test_row_share_bytes() -> None:
    # 1000-byte table, A has 3 of 4 rows, B 1, one row of an unmapped tenant (None)
    assert row_share_bytes({A: 3, B: 1}, 1000) == {A: Decimal(750), B: Decimal(250)}
    assert row_share_bytes({}, 1000) == {}


def test_ms_to_seconds_never_negative_and_microsecond_precision() -> None:
    assert ms_to_seconds(1234.5678) == Decimal("1.234568")
    assert ms_to_seconds(-0.0000001) == Decimal(0)


def test_partition_bounds() -> None:
    bound = "FOR VALUES FROM ('2025-11-01 00:00:00+00') TO ('2025-12-01 00:00:00+00')"
    assert parse_bounds(bound) == (
        datetime(2025, 11, 1, tzinfo=UTC),
        datetime(2025, 12, 1, tzinfo=UTC),
    )
    assert parse_bounds("DEFAULT") is None
