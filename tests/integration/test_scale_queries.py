"""Queries rewritten for scale (issue 15) answer exactly what they answered before."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tenantcost.attribution.ledger import attribute_period
from tenantcost.config import get_settings
from tenantcost.db.connect import connect
from tenantcost.pricing.book import find_price_book
from tenantcost.pricing.store import import_book
from tenantcost.telemetry.timeutil import month_period
from tenantcost.web.data import sql as web_sql
from tenantcost.web.data import tenant_detail

pytestmark = pytest.mark.db
Conn = psycopg.Connection[dict[str, Any]]


def test_tenant_ips_are_its_own_and_the_tenantless_ones_on_its_vps(migrated_conn: Conn) -> None:
    """The tenant page's IPs: an IP's own tenant wins; an IP without one belongs to its VPS's
    tenant (the rewrite of COALESCE(ip.tenant_id, v.tenant_id) = tenant into two lookups)."""
    conn = migrated_conn
    acme, calm = uuid.uuid4(), uuid.uuid4()
    conn.execute("INSERT INTO companies (id, name) VALUES (%s, 'acme'), (%s, 'calm')", (acme, calm))
    acme_vps, calm_vps, shared_vps = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    conn.execute(
        "INSERT INTO vps_instances (id, name, tenant_id) VALUES (%s, 'a', %s), (%s, 'c', %s), "
        "(%s, 'shared', NULL)",
        (acme_vps, acme, calm_vps, calm, shared_vps),
    )
    ips = [
        ("10.0.0.1", acme_vps, None),  # tenantless on acme's VPS → acme
        ("10.0.0.2", acme_vps, calm),  # calm's own IP on acme's VPS → calm
        ("10.0.0.3", shared_vps, acme),  # acme's own IP on a shared VPS → acme
        ("10.0.0.4", calm_vps, None),  # tenantless on calm's VPS → calm
        ("10.0.0.5", shared_vps, None),  # shared: nobody's
        ("10.0.0.6", None, acme),  # acme's, on no VPS → acme
    ]
    for address, vps, tenant in ips:
        conn.execute(
            "INSERT INTO smtp_ip_addresses (ip_address, vps_instance_id, tenant_id) "
            "VALUES (%s, %s, %s)",
            (address, vps, tenant),
        )
    acme_page = tenant_detail(conn, acme, None)
    calm_page = tenant_detail(conn, calm, None)
    assert acme_page is not None and calm_page is not None
    assert [ip["ip_address"] for ip in acme_page["ips"]] == ["10.0.0.1", "10.0.0.3", "10.0.0.6"]
    assert [ip["ip_address"] for ip in calm_page["ips"]] == ["10.0.0.2", "10.0.0.4"]


def test_tenant_months_sum_only_the_last_twelve_months_from_the_index(migrated_url: str) -> None:
    """The tenant page's 12 months of payments and emails: each month its own tenant's rows,
    older rows and other tenants' ignored, months without rows 0; the sums come from the
    indexes alone (revision 0025: they were a scattered heap visit per daily row)."""
    with connect(migrated_url, autocommit=True) as conn:
        _tenant_months(conn)


def _tenant_months(conn: Conn) -> None:
    acme, calm = _company(conn, "acme"), _company(conn, "calm")
    plan: Any = conn.execute(
        "INSERT INTO plans (name, price_monthly) VALUES ('p', 10) RETURNING id"
    ).fetchone()
    subs = {}
    for tenant in (acme, calm):
        row: Any = conn.execute(
            "INSERT INTO subscriptions (tenant_id, plan_id, current_period_start, "
            "current_period_end) VALUES (%s, %s, now(), now()) RETURNING id",
            (tenant, plan["id"]),
        ).fetchone()
        subs[tenant] = row["id"]
    this_month: Any = conn.execute(
        "SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date AS m"
    ).fetchone()
    first = this_month["m"]
    year_ago = date(first.year - 1, first.month, 1)  # one month before the 12 shown

    def at(day: date, hour: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)

    rows = [  # (tenant, when, payment, emails)
        (acme, at(first, 0), "10.00", 5),
        (acme, at(first, 23), "2.50", 7),  # same month
        (acme, at(year_ago, 12), "99.00", 1000),  # 13 months back: not shown
        (calm, at(first, 1), "40.00", 300),  # another tenant's
    ]
    for tenant, when, amount, emails in rows:
        conn.execute(
            "INSERT INTO payments (subscription_id, amount, billing_period_start) "
            "VALUES (%s, %s, %s)",
            (subs[tenant], Decimal(amount), when),
        )
        conn.execute(
            "INSERT INTO billing_analytics (subscription_id, period_start, emails_sent) "
            "VALUES (%s, %s, %s)",
            (subs[tenant], when, emails),
        )
    months = conn.execute(web_sql("tenant_monthly"), {"tenant_id": acme}).fetchall()
    assert len(months) == 12
    assert months[0]["month"] > year_ago and months[-1]["month"] == first
    assert (months[-1]["payments"], months[-1]["emails_sent"]) == (Decimal("12.50"), 12)
    assert all(m["payments"] == 0 and m["emails_sent"] == 0 for m in months[:-1])

    conn.execute("VACUUM (ANALYZE) payments")  # vacuum sets the visibility map
    conn.execute("VACUUM (ANALYZE) billing_analytics")
    conn.execute("SET enable_seqscan = off")  # a 4-row table: can the index answer alone?
    conn.execute("SET enable_bitmapscan = off")
    try:
        plan_rows = conn.execute(
            "EXPLAIN " + web_sql("tenant_monthly"), {"tenant_id": acme}
        ).fetchall()
    finally:
        conn.execute("RESET enable_seqscan")
        conn.execute("RESET enable_bitmapscan")
    text = "\n".join(r["QUERY PLAN"] for r in plan_rows)
    # which index is the planner's choice on 4 rows; that one serves the sums alone is the point
    for table in ("payments py", "billing_analytics ba"):
        scans = [line for line in text.splitlines() if f" on {table} " in line]
        assert scans and all("Index Only Scan" in line for line in scans), text


# ----------------------------------------------------------------------------- priced days

NOV10_09 = datetime(2025, 11, 10, 9, tzinfo=UTC)
NOV10_10 = datetime(2025, 11, 10, 10, tzinfo=UTC)
NOV11_09 = datetime(2025, 11, 11, 9, tzinfo=UTC)
AS_OF = datetime(2025, 12, 1, 1, tzinfo=UTC)  # November covered to its end, provisional
NOV = month_period("2025-11")


def _company(conn: Conn, name: str) -> uuid.UUID:
    row: Any = conn.execute(
        "INSERT INTO companies (name) VALUES (%s) RETURNING id", (name,)
    ).fetchone()
    return uuid.UUID(str(row["id"]))


def _put(conn: Conn, hour: datetime, tenant: uuid.UUID, seconds: str) -> None:
    conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (hour,))
    conn.execute(
        "INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity) "
        "VALUES (%s, %s, 'compute_seconds', 'pg_stat_statements', %s)",
        (hour, tenant, Decimal(seconds)),
    )


def _compute(conn: Conn) -> dict[uuid.UUID, Decimal]:
    rows = conn.execute(
        "SELECT tenant_id, amount FROM tenant_cost_ledger "
        "WHERE period = '2025-11' AND line = 'tenant' AND driver = 'compute'"
    ).fetchall()
    return {r["tenant_id"]: r["amount"] for r in rows}


@pytest.fixture
def priced(migrated_url: str) -> Iterator[Conn]:
    with connect(migrated_url, autocommit=True) as c:
        import_book(c, find_price_book("railway-2025-11"))
        yield c


def test_a_month_reprices_only_days_whose_evidence_or_pricing_changed(priced: Conn) -> None:
    """The month's set-based ledger equals the figures worked by hand; a day is re-priced when
    its evidence changes (any writer: a trigger marks it) or the pricing inputs do, and only
    then (a day's daily rows edited behind the model's back stay as they are otherwise)."""
    conn = priced
    a, b = _company(conn, "Alpha"), _company(conn, "Beta")
    _put(conn, NOV10_09, a, "600")
    _put(conn, NOV11_09, b, "150")
    changed = conn.execute("SELECT day FROM tenant_usage_changed_days ORDER BY day").fetchall()
    assert [r["day"] for r in changed] == [date(2025, 11, 10), date(2025, 11, 11)]
    attribute_period(conn, NOV, as_of=AS_OF)
    # Railway $0.000463 per vCPU-minute: A 600 s = 10 min → 0.00463; B 150 s = 2.5 min →
    # 0.0011575.
    assert _compute(conn) == {a: Decimal("0.00463"), b: Decimal("0.0011575")}
    assert conn.execute("SELECT count(*) AS n FROM tenant_usage_changed_days").fetchone() == {
        "n": 0
    }
    days = conn.execute("SELECT day FROM tenant_cost_days ORDER BY day").fetchall()
    assert {date(2025, 11, 10), date(2025, 11, 11)} <= {r["day"] for r in days}

    # Nothing changed: no day is re-priced (the edited daily row stays, proving it).
    conn.execute("UPDATE tenant_cost_daily SET amount = 1 WHERE tenant_id = %s", (b,))
    attribute_period(conn, NOV, as_of=AS_OF)
    assert _compute(conn) == {a: Decimal("0.00463"), b: Decimal(1)}

    # New evidence on the 10th re-prices the 10th only: A 600 + 120 s = 12 min x 0.000463.
    _put(conn, NOV10_10, a, "120")
    attribute_period(conn, NOV, as_of=AS_OF)
    assert _compute(conn) == {a: Decimal("0.005556"), b: Decimal(1)}

    # Other pricing inputs (the memory model) re-price every day: B is back to its figure.
    other = get_settings().model_copy(update={"connection_memory_mb": 20})
    attribute_period(conn, NOV, as_of=AS_OF, settings=other)
    assert _compute(conn) == {a: Decimal("0.005556"), b: Decimal("0.0011575")}

    # Evidence deleted: its day is re-priced to nothing.
    conn.execute("DELETE FROM tenant_usage_hourly WHERE tenant_id = %s", (b,))
    attribute_period(conn, NOV, as_of=AS_OF, settings=other)
    assert _compute(conn) == {a: Decimal("0.005556")}


def test_hours_without_a_host_measurement_are_counted_from_the_evidence(priced: Conn) -> None:
    """The hours with evidence (found by a loose index scan) against the hours the host was
    measured: evidence in 3 hours on 2 days, host CPU in 1 of them → 2 unmeasured."""
    conn = priced
    a = _company(conn, "Alpha")
    for at in (NOV10_09, NOV10_10, NOV11_09):
        _put(conn, at, a, "60")
    _put(conn, NOV10_09, _company(conn, "Beta"), "60")  # a second row in a measured hour
    conn.execute(
        "INSERT INTO host_usage_hourly (hour, host, metric, quantity) "
        "VALUES (%s, 'db1', 'cpu_seconds', 3600)",
        (NOV10_09,),
    )
    result = attribute_period(conn, NOV, as_of=AS_OF)
    assert result.basis == "host_measured"
    assert "2 hours with usage have no host CPU measurement" in result.notes


def test_a_day_whose_evidence_retention_dropped_keeps_its_cost(priced: Conn) -> None:
    """Retention drops whole partitions (no trigger fires): their days keep the
    cost they were priced to, even when the pricing inputs change afterwards."""
    conn = priced
    a = _company(conn, "Alpha")
    _put(conn, NOV10_09, a, "600")  # 10 min x 0.000463 = 0.00463
    attribute_period(conn, NOV, as_of=AS_OF)
    conn.execute("DROP TABLE tenant_usage_hourly_y2025m11d10")  # daily partitions (0020)
    other = get_settings().model_copy(update={"connection_memory_mb": 20})
    attribute_period(conn, NOV, as_of=AS_OF, settings=other)
    assert _compute(conn) == {a: Decimal("0.00463")}
