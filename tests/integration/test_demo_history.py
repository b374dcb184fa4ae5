"""Demo usage history: evidence only, priced through the real path, with the shapes the demo
promises (rhythm, heavy tenants over their ceilings, a spike)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantcost.db import NO_TENANT
from tenantcost.demo.fleet import load_demo
from tenantcost.demo.history import load_history
from tenantcost.pricing.book import find_price_book
from tenantcost.pricing.store import import_book

pytestmark = pytest.mark.db
NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@pytest.fixture
def conn(migrated_url: str) -> Any:
    with psycopg.connect(migrated_url, row_factory=dict_row, autocommit=True) as c:
        import_book(c, find_price_book("railway-2025-11"))
        load_demo(c, tenants=40, seed=3, replace=True)
        yield c


def test_history_is_evidence_priced_like_real_usage(conn: Any) -> None:
    result = load_history(conn, days=10, seed=3, now=NOW)
    assert result.months == ["2026-11"]
    sources = conn.execute("SELECT DISTINCT source FROM tenant_usage_hourly").fetchall()
    assert {r["source"] for r in sources} == {"demo"}  # evidence, marked as demo data
    hours = conn.execute(
        "SELECT count(DISTINCT hour) AS n, min(hour) AS first, max(hour) AS last "
        "FROM tenant_usage_hourly"
    ).fetchone()
    end = NOW.replace(minute=0)
    assert (hours["first"], hours["last"]) == (end - timedelta(days=10), end - timedelta(hours=1))
    # Priced through the one pricing function: the month's ledger usage = the days' sum.
    daily = conn.execute("SELECT sum(amount) AS s FROM tenant_cost_daily").fetchone()["s"]
    ledger = conn.execute(
        "SELECT sum(amount) AS s FROM tenant_cost_ledger WHERE driver IN "
        "('compute', 'memory', 'storage', 'network')"
    ).fetchone()["s"]
    assert daily > 0 and ledger == daily
    # Busy hours are busier than nights: compare 12:00 and 03:00 UTC query counts.
    by_hour = {
        r["h"]: r["q"]
        for r in conn.execute(
            "SELECT extract(hour FROM hour AT TIME ZONE 'UTC') AS h, sum(quantity) AS q "
            "FROM tenant_usage_hourly WHERE metric = 'query_count' GROUP BY 1"
        )
    }
    assert by_hour[Decimal(12)] > 3 * by_hour[Decimal(3)]
    # One tenant spikes two hours ago: its hourly cost then is far above its own median.
    spike = end - timedelta(hours=2)
    ratios = conn.execute(
        "SELECT h.tenant_id, h.cost / nullif(m.median, 0) AS ratio FROM tenant_cost_hourly h "
        "JOIN (SELECT tenant_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY cost) AS median "
        "      FROM tenant_cost_hourly WHERE hour < %s GROUP BY tenant_id) m USING (tenant_id) "
        "WHERE h.hour = %s ORDER BY 2 DESC NULLS LAST",
        (spike, spike),
    ).fetchall()
    assert ratios[0]["ratio"] > 10 > ratios[1]["ratio"]  # exactly one tenant spikes


def test_reloading_history_replaces_it(conn: Any) -> None:
    load_history(conn, days=3, seed=3, now=NOW)
    first = conn.execute("SELECT count(*) AS n, sum(quantity) AS q FROM tenant_usage_hourly")
    before = first.fetchone()
    load_history(conn, days=3, seed=3, now=NOW)
    after = conn.execute(
        "SELECT count(*) AS n, sum(quantity) AS q FROM tenant_usage_hourly"
    ).fetchone()
    assert after == before  # deterministic, and nothing added twice


def test_two_connections_write_what_one_writes(conn: Any, migrated_url: str) -> None:
    """The window split across connections changes the speed, never the rows or their price."""

    def snapshot() -> tuple[Any, ...]:
        usage = conn.execute(
            "SELECT metric, count(*) AS n, sum(quantity) AS q FROM tenant_usage_hourly "
            "GROUP BY metric ORDER BY metric"
        ).fetchall()
        daily = conn.execute(
            "SELECT day, sum(amount) AS a FROM tenant_cost_daily GROUP BY day ORDER BY day"
        ).fetchall()
        return (usage, daily)

    load_history(conn, days=5, seed=3, now=NOW)
    alone = snapshot()
    with psycopg.connect(migrated_url, row_factory=dict_row, autocommit=True) as second:
        load_history(conn, days=5, seed=3, now=NOW, more=[second])
    assert snapshot() == alone
    assert len(alone[1]) == 6  # a part day at each end of the 5-day window, all priced


def test_fresh_partitions_are_attached_with_the_foreign_key_checked(conn: Any) -> None:
    """Partitions without evidence (one per UTC day since revision 0020) are written into
    staging tables and attached: afterwards each is the day's ordinary partition (its name,
    its indexes, the validated foreign key that every other writer meets row by row), and no
    staging table is left."""
    load_history(conn, days=3, seed=3, now=NOW)
    parts = conn.execute(
        "SELECT c.relname, (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid) AS idx, "
        "(SELECT bool_and(k.convalidated) FROM pg_constraint k "
        " WHERE k.conrelid = c.oid AND k.contype = 'f') AS fk, "
        "(SELECT count(*) FROM tenant_usage_hourly u WHERE u.tableoid = c.oid) AS n "
        "FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
        "WHERE h.inhparent = 'tenant_usage_hourly'::regclass ORDER BY c.relname"
    ).fetchall()
    # November has 30 day partitions: the two indexes of the evidence table (unique key,
    # tenant) and the validated FK on each; rows in the 4 days the 3-day window touches
    assert len(parts) == 30
    assert all(p["idx"] == 2 and p["fk"] for p in parts)
    first = (NOW - timedelta(days=3)).day
    holding = [p["relname"] for p in parts if p["n"]]
    assert holding == [f"tenant_usage_hourly_y2026m11d{d:02d}" for d in range(first, NOW.day + 1)]
    assert not conn.execute(
        "SELECT 1 FROM pg_class WHERE relname LIKE 'demo_history_load%%'"
    ).fetchall()
    # 3 days x 24 hours of 40 tenants: the rows went through the attach, none lost
    hours = conn.execute("SELECT count(DISTINCT hour) AS n FROM tenant_usage_hourly").fetchone()
    assert hours["n"] == 72
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(
            "INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity) "
            "VALUES (%s, %s, 'query_count', 'no-such-source', 1)",
            (NOW.replace(minute=0, day=19), NO_TENANT),  # no tenant (revision 0027)
        )
    with pytest.raises(psycopg.errors.UniqueViolation):  # the unique key holds too
        conn.execute(
            "INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity) "
            "SELECT hour, tenant_id, metric, source, 1 FROM tenant_usage_hourly LIMIT 1"
        )


def test_a_staged_row_without_a_catalogued_metric_fails_the_attach(conn: Any) -> None:
    from tenantcost.demo.history import attach_partitions, create_staging
    from tenantcost.telemetry.retention import partitions

    day = datetime(2026, 10, 5, tzinfo=UTC)
    conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (day,))
    (partition,) = partitions(conn, day, day + timedelta(hours=1))
    assert partition.name == "tenant_usage_hourly_y2026m10d05"
    create_staging(conn, [partition])
    conn.execute(
        "INSERT INTO demo_history_load_tenant_usage_hourly_y2026m10d05 "
        "(hour, tenant_id, metric, source, quantity) "
        "VALUES ('2026-10-05 10:00Z', %s, 'query_count', 'no-such-source', 1)",
        (NO_TENANT,),  # no tenant (revision 0027)
    )
    with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
        attach_partitions(conn, [partition], day, day + timedelta(days=1))
    # rolled back: the day's empty partition is still in place, the staging table as it was
    assert partitions(conn, day, day + timedelta(hours=1)) == [partition]
    conn.execute("DROP TABLE demo_history_load")  # with its partition


def test_a_row_trigger_on_the_evidence_keeps_the_ordinary_insert(conn: Any) -> None:
    """Rows attached as a partition would not pass a row-level trigger of the evidence table;
    with one present, a fresh month's rows go through the table and the trigger sees each."""
    conn.execute("CREATE TABLE seen_rows (n bigint NOT NULL)")
    conn.execute("INSERT INTO seen_rows VALUES (0)")
    conn.execute(
        "CREATE FUNCTION count_row() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN UPDATE seen_rows SET n = n + 1; RETURN NEW; END $$"
    )
    conn.execute(
        "CREATE TRIGGER count_row AFTER INSERT ON tenant_usage_hourly "
        "FOR EACH ROW EXECUTE FUNCTION count_row()"
    )
    result = load_history(conn, days=1, seed=3, now=NOW)
    seen = conn.execute("SELECT n FROM seen_rows").fetchone()["n"]
    stored = conn.execute("SELECT count(*) AS n FROM tenant_usage_hourly").fetchone()["n"]
    assert seen == stored == result.evidence_rows > 0


def test_evidence_written_is_called_once_the_evidence_is_in_and_before_pricing(
    conn: Any, migrated_url: str
) -> None:
    """The main job starts its telemetry workload from this hook: the evidence must be
    committed (another connection sees it) and not yet priced."""
    seen: list[tuple[int, int]] = []

    def look() -> None:
        with psycopg.connect(migrated_url, row_factory=dict_row, autocommit=True) as other:
            rows = other.execute("SELECT count(*) AS n FROM tenant_usage_hourly").fetchone()
            priced = other.execute("SELECT count(*) AS n FROM tenant_cost_daily").fetchone()
            seen.append((rows["n"], priced["n"]))

    result = load_history(conn, days=1, seed=3, now=NOW, evidence_written=look)
    assert seen == [(result.evidence_rows, 0)] and result.evidence_rows > 0
    assert conn.execute("SELECT count(*) AS n FROM tenant_cost_daily").fetchone()["n"] > 0
