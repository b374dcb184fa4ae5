"""Demo usage history: evidence only, priced through the real path, with the shapes the demo
promises (rhythm, heavy tenants over their ceilings, a spike)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

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
