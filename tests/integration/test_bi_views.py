"""The seed's views over the one cost model, and shared-cost allocation, on hand-built data
where the seed's SQL fails. The month is November 2025, attributed as of 2025-12-01 01:00 UTC:
covered to its end, so fixed monthly costs and revenue count in full (fraction 1).

The fleet (every expected number below is worked out from it by hand):

- Tenant A, plan Pro $99: 2 active VPS ($40.00, $25.50), 3 active IPs on each ($4.99 each),
  a retired IP carrying $4.99 (must not count); payments $60.00 + $39.00 in November and $99.00
  in October (not counted); analytics 1,000 + 2,000 + 3,000 emails in November and 50,000 in
  October (not counted). The seed's SQL charges A every active VPS in the fleet and
  multiplies each cost by the VPS x IP x payment x analytics fan-out.
- Tenant B, plan Basic $29: no VPS, no IP; one $29.00 payment; 2,000 emails.
- Tenant C, plan Free $0: a stopped VPS ($20.00, not counted) with one active IP, and one IP
  owned directly (no VPS): 2 x $4.99; 1,000 emails.
- Company D: cancelled subscription, still owns an active $15.00 VPS (charged to nobody).
- Shared (tenant_id NULL): an active $100.00 VPS with 2 active IPs, a terminated $50.00 VPS.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantcost.attribution.ledger import attribute_period
from tenantcost.costs import store
from tenantcost.db import migrate
from tenantcost.db.tenancy import set_tenant
from tenantcost.errors import UserError
from tenantcost.report.reconcile import reconciles
from tenantcost.report.rollup import rollup_state
from tenantcost.telemetry.timeutil import month_period
from tenantcost.verification import run_all
from tests.integration.tenants import tenant_key

pytestmark = pytest.mark.db
Conn = psycopg.Connection[dict[str, Any]]

A = uuid.UUID("00000000-0000-0000-0000-0000000000a1")
B = uuid.UUID("00000000-0000-0000-0000-0000000000b1")
C = uuid.UUID("00000000-0000-0000-0000-0000000000c1")
D = uuid.UUID("00000000-0000-0000-0000-0000000000d1")
IP = Decimal("4.99")  # the smtp_ip_monthly_cost constant every billable IP carries
NOV = month_period("2025-11")
AS_OF = datetime(2025, 12, 1, 1, tzinfo=UTC)


def on(day: int) -> datetime:
    """A moment in November 2025 (day 0 and below reach back into October)."""
    return datetime(2025, 11, 1, 12, tzinfo=UTC) + (day - 1) * (NOV.end - NOV.start) / 30


def _id(conn: Conn, sql: str, params: tuple[object, ...]) -> uuid.UUID:
    row = conn.execute(sql + " RETURNING id", params).fetchone()
    assert row is not None
    return uuid.UUID(str(row["id"]))


def add_vps(conn: Conn, tenant: uuid.UUID | None, cost: str, status: str = "active") -> uuid.UUID:
    return _id(
        conn,
        "INSERT INTO vps_instances (tenant_id, status, approximate_cost) VALUES (%s, %s, %s)",
        (tenant, status, Decimal(cost)),
    )


def add_ip(
    conn: Conn, vps: uuid.UUID | None, status: str = "active", tenant: uuid.UUID | None = None
) -> uuid.UUID:
    return _id(
        conn,
        "INSERT INTO smtp_ip_addresses (vps_instance_id, status, tenant_id) VALUES (%s, %s, %s)",
        (vps, status, tenant),
    )


def add_tenant(conn: Conn, tenant: uuid.UUID, name: str, plan: uuid.UUID, status: str) -> uuid.UUID:
    conn.execute("INSERT INTO companies (id, name) VALUES (%s, %s)", (tenant, name))
    return _id(
        conn,
        "INSERT INTO subscriptions (tenant_id, plan_id, status, current_period_start, "
        "current_period_end) VALUES (%s, %s, %s, now() - interval '10 days', "
        "now() + interval '20 days')",
        (tenant, plan, status),
    )


def pay(conn: Conn, sub: uuid.UUID, amount: str, day: int) -> None:
    conn.execute(
        "INSERT INTO payments (subscription_id, amount, billing_period_start) VALUES (%s, %s, %s)",
        (sub, Decimal(amount), on(day)),
    )


def emails(conn: Conn, sub: uuid.UUID, count: int, day: int) -> None:
    conn.execute(
        "INSERT INTO billing_analytics (subscription_id, period_start, emails_sent) "
        "VALUES (%s, %s, %s)",
        (sub, on(day), count),
    )


def attribute(conn: Conn) -> None:
    attribute_period(conn, NOV, as_of=AS_OF)


def build_fleet(url: str) -> None:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        pro = _id(conn, "INSERT INTO plans (name, price_monthly) VALUES ('Pro', 99)", ())
        basic = _id(conn, "INSERT INTO plans (name, price_monthly) VALUES ('Basic', 29)", ())
        free = _id(conn, "INSERT INTO plans (name, price_monthly) VALUES ('Free', 0)", ())

        sub_a = add_tenant(conn, A, "Acme", pro, "active")
        for cost in ("40.00", "25.50"):
            vps = add_vps(conn, A, cost)
            for _ in range(3):
                add_ip(conn, vps)
        retired = add_ip(conn, vps, "retired")
        conn.execute(  # a retired IP that still carries a cost must not count
            "UPDATE smtp_ip_addresses SET approximate_cost = 4.99, cost_override = true "
            "WHERE id = %s",
            (retired,),
        )
        pay(conn, sub_a, "60.00", 25)
        pay(conn, sub_a, "39.00", 29)
        pay(conn, sub_a, "99.00", -10)  # October
        for count, day in ((1000, 29), (2000, 20), (3000, 10)):
            emails(conn, sub_a, count, day)
        emails(conn, sub_a, 50_000, -15)  # October

        sub_b = add_tenant(conn, B, "Bolt", basic, "active")
        pay(conn, sub_b, "29.00", 28)
        emails(conn, sub_b, 2000, 27)

        sub_c = add_tenant(conn, C, "Cirrus", free, "active")
        add_ip(conn, add_vps(conn, C, "20.00", "stopped"))  # IP counts by its own status
        add_ip(conn, None, tenant=C)
        emails(conn, sub_c, 1000, 26)

        add_tenant(conn, D, "Defunct", pro, "cancelled")
        add_vps(conn, D, "15.00")

        shared = add_vps(conn, None, "100.00")
        add_ip(conn, shared)
        add_ip(conn, shared)
        add_vps(conn, None, "50.00", "terminated")


# Totals every rule must reconcile to: active VPS + billable IPs.
ACTIVE_VPS = Decimal("40.00") + Decimal("25.50") + Decimal("15.00") + Decimal("100.00")
BILLABLE_IPS = (6 + 2 + 2) * IP  # A's six, C's two, the two shared
FLEET_COST = ACTIVE_VPS + BILLABLE_IPS  # 180.50 + 49.90 = 230.40

A_INFRA = Decimal("40.00") + Decimal("25.50")  # 65.50
A_EMAIL = 6 * IP  # 29.94
C_EMAIL = 2 * IP  # 9.98
SHARED_INFRA = Decimal("100.00")
SHARED_EMAIL = 2 * IP  # 9.98


@pytest.fixture
def fleet(migrated_url: str) -> str:
    build_fleet(migrated_url)
    return migrated_url


@pytest.fixture
def conn(fleet: str) -> Iterator[Conn]:
    with psycopg.connect(fleet, row_factory=dict_row, autocommit=True) as c:
        attribute(c)
        yield c


def by_tenant(conn: Conn, relation: str) -> dict[uuid.UUID, dict[str, Any]]:
    rows = conn.execute(f"SELECT * FROM {relation}").fetchall()
    return {row["tenant_id"]: row for row in rows}


def set_rule(conn: Conn, rule: str) -> None:
    store.set_setting(conn, "shared_cost_allocation", rule, "test")
    attribute(conn)


def c2(value: Decimal | None) -> Decimal | None:
    """As people see a ratio: 2 decimals (None stays n/a)."""
    return None if value is None else value.quantize(Decimal("0.01"))


def test_summary_without_fan_out_or_cross_tenant_charges(conn: Conn) -> None:
    rows = by_tenant(conn, "executive_business_summary")
    assert set(rows) == {A, B, C}  # D has no active subscription

    a = rows[A]
    assert a["company_name"] == "Acme" and a["plan_name"] == "Pro"
    assert a["monthly_subscription_revenue"] == Decimal("99.00")
    assert a["infrastructure_costs"] == A_INFRA == Decimal("65.50")
    assert a["email_service_costs"] == A_EMAIL == Decimal("29.94")
    cost = A_INFRA + A_EMAIL  # 95.44
    assert a["total_operational_cost"] == cost
    assert c2(a["gross_margin_ratio"]) == Decimal("1.04")  # 99 / 95.44 = 1.0373
    assert c2(a["gross_margin_pct"]) == Decimal("3.60")  # (99 - 95.44) / 99 x 100 = 3.5959
    assert a["cost_efficiency_score"] == 4  # round(3.5959)
    assert a["business_health_status"] == "Monitor"  # 95.44 < 99 <= 1.5 x 95.44
    assert a["monthly_profit"] == Decimal("99.00") - cost == Decimal("3.56")

    b = rows[B]  # no VPS, no IPs: no cost at all
    assert b["infrastructure_costs"] == b["email_service_costs"] == Decimal("0.00")
    assert b["gross_margin_ratio"] is None  # revenue / 0: n/a, never 0
    assert b["gross_margin_pct"] == Decimal("100")  # (29 - 0) / 29 x 100
    assert b["cost_efficiency_score"] == 100
    assert b["business_health_status"] == "Excellent"
    assert b["monthly_profit"] == Decimal("29.00")

    c = rows[C]  # $0 plan; its stopped VPS costs nothing, both IPs count by IP status
    assert c["monthly_subscription_revenue"] == Decimal("0.00")
    assert c["infrastructure_costs"] == Decimal("0.00")
    assert c["email_service_costs"] == C_EMAIL == Decimal("9.98")
    assert c["gross_margin_ratio"] == Decimal("0")  # 0 / 9.98
    assert c["gross_margin_pct"] is None  # undefined for revenue 0
    assert c["cost_efficiency_score"] == 0
    assert c["business_health_status"] == "Critical Action Required"
    assert c["monthly_profit"] == Decimal("-9.98")


def test_cost_allocation_counts_each_source_once(conn: Conn) -> None:
    rows = by_tenant(conn, "business_cost_allocation")
    a = rows[A]
    assert a["company_name"] == "Acme"
    assert a["price_monthly"] == Decimal("99.00")
    assert a["total_infrastructure_cost"] == Decimal("65.50")
    assert a["total_email_service_cost"] == Decimal("29.94")
    assert a["total_monthly_cost"] == Decimal("95.44")  # payments are not a cost
    assert a["payments_received"] == Decimal("60.00") + Decimal("39.00")  # not the one before
    assert a["emails_sent"] == 1000 + 2000 + 3000  # not the 50,000 of 45 days ago
    # monthly_profit means revenue - cost here too; the payments-based figure has its own name
    assert a["monthly_profit"] == Decimal("99.00") - Decimal("95.44")
    assert a["collected_profit"] == Decimal("60.00") + Decimal("39.00") - Decimal("95.44")
    assert a["cost_per_email_delivered"].quantize(Decimal("0.0001")) == Decimal("0.0159")
    assert c2(a["business_efficiency_ratio"]) == Decimal("1.04")  # 99.00 / 95.44

    b = rows[B]
    assert b["cost_per_email_delivered"] == 0  # no cost, 2,000 emails
    assert b["business_efficiency_ratio"] is None  # payments / 0: n/a
    assert b["monthly_profit"] == Decimal("29.00") and b["collected_profit"] == Decimal("29.00")

    c = rows[C]
    assert c["cost_per_email_delivered"] == Decimal("0.00998")  # 9.98 / 1000
    assert c["payments_received"] == Decimal("0.00")
    assert c["monthly_profit"] == Decimal("-9.98")


def shared_lines(conn: Conn) -> dict[str, dict[str, Any]]:
    rows = conn.execute("SELECT * FROM shared_infrastructure_cost").fetchall()
    return {f"{r['line']}:{r['company_name'] or ''}": r for r in rows}


def test_rule_none_reports_shared_cost_as_its_own_line(conn: Conn) -> None:
    lines = shared_lines(conn)
    shared = lines["shared_unallocated:"]
    assert shared["infrastructure_cost"] == SHARED_INFRA
    assert shared["email_service_cost"] == SHARED_EMAIL
    assert shared["total_cost"] == Decimal("109.98")
    assert shared["allocation_rule"] == "none"
    defunct = lines["no_active_subscription:Defunct"]
    assert (defunct["tenant_id"], defunct["total_cost"]) == (D, Decimal("15.00"))
    tenants = sum(
        r["total_operational_cost"] for r in by_tenant(conn, "executive_business_summary").values()
    )
    assert tenants == Decimal("95.44") + Decimal("0.00") + Decimal("9.98")
    assert tenants + Decimal("109.98") + Decimal("15.00") == FLEET_COST == Decimal("230.40")


def test_rule_even_splits_by_largest_remainder(conn: Conn) -> None:
    set_rule(conn, "even")
    rows = by_tenant(conn, "executive_business_summary")
    # 100.00 / 3 = 33.333…: 33.33 each, the 1 residual cent to the lowest tenant_id (A).
    # 9.98 / 3 = 3.3266…: 3.32 each, 2 residual cents to A and B (equal remainders).
    assert rows[A]["infrastructure_costs"] == A_INFRA + Decimal("33.34")
    assert rows[B]["infrastructure_costs"] == Decimal("33.33")
    assert rows[C]["infrastructure_costs"] == Decimal("33.33")
    assert rows[A]["email_service_costs"] == A_EMAIL + Decimal("3.33")
    assert rows[B]["email_service_costs"] == Decimal("3.33")
    assert rows[C]["email_service_costs"] == C_EMAIL + Decimal("3.32")
    assert Decimal("33.34") + 2 * Decimal("33.33") == SHARED_INFRA
    assert 2 * Decimal("3.33") + Decimal("3.32") == SHARED_EMAIL
    # B now carries cost: 29 / 36.66 = 0.79 -> Critical
    assert rows[B]["total_operational_cost"] == Decimal("36.66")
    assert rows[B]["business_health_status"] == "Critical Action Required"
    assert c2(rows[B]["gross_margin_pct"]) == Decimal("-26.41")  # (29 - 36.66) / 29 x 100
    assert rows[B]["cost_efficiency_score"] == 0  # clamped
    lines = shared_lines(conn)
    assert "shared_unallocated:" not in lines  # nothing left unallocated: no line
    assert lines["no_active_subscription:Defunct"]["total_cost"] == Decimal("15.00")
    total = sum(r["total_operational_cost"] for r in rows.values())
    assert total + Decimal("15.00") == FLEET_COST


def test_rule_emails_sent_is_proportional_and_exact(conn: Conn) -> None:
    set_rule(conn, "emails_sent")
    rows = by_tenant(conn, "business_cost_allocation")
    # Weights: A 6,000, B 2,000, C 1,000 emails (total 9,000).
    # Infra 10,000 cents: A 6666.67, B 2222.22, C 1111.11 -> floors 6666/2222/1111 leave 1 cent,
    # which goes to A (largest remainder .67).
    assert rows[A]["total_infrastructure_cost"] == A_INFRA + Decimal("66.67")
    assert rows[B]["total_infrastructure_cost"] == Decimal("22.22")
    assert rows[C]["total_infrastructure_cost"] == Decimal("11.11")
    # Email 998 cents: A 665.33, B 221.78, C 110.89 -> floors 665/221/110 leave 2 cents,
    # which go to C (.89) and B (.78).
    assert rows[A]["total_email_service_cost"] == A_EMAIL + Decimal("6.65")
    assert rows[B]["total_email_service_cost"] == Decimal("2.22")
    assert rows[C]["total_email_service_cost"] == C_EMAIL + Decimal("1.11")
    assert Decimal("66.67") + Decimal("22.22") + Decimal("11.11") == SHARED_INFRA
    assert Decimal("6.65") + Decimal("2.22") + Decimal("1.11") == SHARED_EMAIL
    # cost per email uses the allocated cost: (65.50 + 66.67 + 29.94 + 6.65) / 6000
    assert rows[A]["cost_per_email_delivered"].quantize(Decimal("0.0001")) == Decimal("0.0281")
    assert "shared_unallocated:" not in shared_lines(conn)


def test_rule_emails_sent_falls_back_to_even_without_emails(conn: Conn) -> None:
    conn.execute("DELETE FROM billing_analytics")
    set_rule(conn, "emails_sent")  # recomputes the month
    rows = by_tenant(conn, "executive_business_summary")
    assert rows[A]["infrastructure_costs"] == A_INFRA + Decimal("33.34")  # as under even
    assert rows[B]["infrastructure_costs"] == Decimal("33.33")
    assert rows[C]["email_service_costs"] == C_EMAIL + Decimal("3.32")


def test_no_tenants_leaves_everything_unallocated(migrated_url: str) -> None:
    with psycopg.connect(migrated_url, row_factory=dict_row, autocommit=True) as conn:
        add_vps(conn, None, "10.01")
        set_rule(conn, "even")  # attributes November with nobody to allocate to
        line = shared_lines(conn)["shared_unallocated:"]
        assert line["infrastructure_cost"] == Decimal("10.01")
        assert conn.execute("SELECT count(*) AS n FROM executive_business_summary").fetchone() == {
            "n": 0
        }


def test_allocation_rule_setting_is_validated(conn: Conn) -> None:
    with pytest.raises(UserError, match="not one of none, even, emails_sent"):
        set_rule(conn, "by_revenue")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "UPDATE cost_settings SET value = 'bogus' WHERE key = 'shared_cost_allocation'"
        )
    change = store.set_setting(conn, "shared_cost_allocation", " Even ", "test")
    assert (change.old, change.new) == ("none", "even")
    audit = conn.execute(
        "SELECT old_value, new_value FROM cost_audit WHERE entity_id = 'shared_cost_allocation'"
    ).fetchall()
    assert audit == [{"old_value": "none", "new_value": "even"}]


def test_figures_say_they_are_stale_until_recomputed(conn: Conn) -> None:
    assert rollup_state(conn).changes_pending == 0
    add_vps(conn, B, "12.00")  # an edit the figures do not show yet
    state = rollup_state(conn)
    assert state.changes_pending == 1 and state.stale
    assert "1 change(s) since the refresh" in state.note()
    assert by_tenant(conn, "executive_business_summary")[B]["infrastructure_costs"] == 0
    attribute(conn)
    assert rollup_state(conn).changes_pending == 0
    assert by_tenant(conn, "executive_business_summary")[B]["infrastructure_costs"] == Decimal(
        "12.00"
    )


def test_a_provisional_month_accrues_fixed_costs_and_revenue_alike(conn: Conn) -> None:
    # As of 2025-11-16 00:00 exactly half of November is covered: A's 99.00 plan and its
    # 95.44 of VPS and IPs both count half: 49.50 against 47.72.
    attribute_period(conn, NOV, as_of=datetime(2025, 11, 16, tzinfo=UTC))
    a = by_tenant(conn, "executive_business_summary")[A]
    assert a["monthly_subscription_revenue"] == Decimal("49.50")
    assert a["total_operational_cost"] == Decimal("47.72")
    assert a["business_health_status"] == "Monitor"  # same verdict as for the full month
    period = conn.execute("SELECT status, covered_until FROM tenant_cost_periods").fetchone()
    assert period == {"status": "provisional", "covered_until": datetime(2025, 11, 16, tzinfo=UTC)}


# ---- reconciliation, as `tenantcost db verify` checks ----------------------------------------


def bi_checks(url: str) -> dict[str, tuple[str, str]]:
    keys = ("reconcile", "figures", "ledger lines", "index idx_executive", "index idx_business")
    return {r.check: (r.status, r.detail) for r in run_all(url) if any(k in r.check for k in keys)}


@pytest.mark.parametrize("rule", ["none", "even", "emails_sent"])
def test_verify_reconciles_to_the_cent_under_every_rule(conn: Conn, fleet: str, rule: str) -> None:
    set_rule(conn, rule)
    checks = bi_checks(fleet)
    assert len(checks) == 3 + 2 + 1 + 5
    assert {status for status, _ in checks.values()} == {"PASS"}, checks
    _, detail = checks[f"cost allocation reconciles (rule {rule})"]
    assert "active resources 230.40" in detail  # FLEET_COST


def test_verify_fails_when_the_figures_owner_cannot_see_every_tenant(
    conn: Conn, fleet: str
) -> None:
    assert bi_checks(fleet)["figures table owner sees every tenant"][0] == "PASS"
    role = f"r_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE ROLE {role} NOLOGIN")
    conn.execute(f"ALTER TABLE tenant_period_figures OWNER TO {role}")
    assert bi_checks(fleet)["figures table owner sees every tenant"][0] == "FAIL"
    conn.execute("DROP INDEX idx_business_cost_allocation_plan")
    assert bi_checks(fleet)["index idx_business_cost_allocation_plan"] == ("FAIL", "missing")


@pytest.mark.parametrize(
    ("tenants", "unallocated", "resources", "ok"),
    [
        ("120.41", "109.99", "230.40", True),
        ("120.41", "109.98", "230.40", False),  # one cent lost
        ("230.41", "-0.01", "230.40", False),  # a negative unallocated line never balances it
    ],
)
def test_reconciliation_rule(tenants: str, unallocated: str, resources: str, ok: bool) -> None:
    assert reconciles(Decimal(tenants), Decimal(unallocated), Decimal(resources)) is ok


# ---- isolation, as plain LOGIN roles (superusers bypass RLS) ---------------------------------


def login_url(admin_url: str, db_url: str, member_of: str) -> str:
    name = f"u_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw' IN ROLE {member_of}")
    return f"postgresql://{name}:pw@{db_url.split('@', 1)[1]}"


TENANT_FACING = (
    "executive_business_summary",
    "business_cost_allocation",
    "tenant_business_rollup",
    "tenant_cost_allocation_rollup",
)
INTERNAL_ONLY = (
    "tenant_cost_ledger",
    "tenant_cost_periods",
    "shared_infrastructure_cost",
)


@pytest.fixture
def even_and_refreshed(conn: Conn, fleet: str) -> str:
    set_rule(conn, "even")
    return fleet


def test_application_service_sees_only_its_tenant(admin_url: str, even_and_refreshed: str) -> None:
    url = login_url(admin_url, even_and_refreshed, "application_service")
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as app:
        for relation in TENANT_FACING:  # no tenant set: nothing
            assert app.execute(f"SELECT * FROM {relation}").fetchall() == [], relation
        set_tenant(app, tenant_key(even_and_refreshed), A, local=False)
        for relation in TENANT_FACING:
            assert [r["tenant_id"] for r in app.execute(f"SELECT * FROM {relation}")] == [A]
        # The figures were computed with full visibility: A's share of shared cost is there,
        # the same figure Finance sees.
        for relation in ("tenant_business_rollup", "executive_business_summary"):
            row = app.execute(f"SELECT * FROM {relation}").fetchone()
            assert row is not None
            assert row["infrastructure_costs"] == A_INFRA + Decimal("33.34")
            assert row["email_service_costs"] == A_EMAIL + Decimal("3.33")
        for relation in INTERNAL_ONLY:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(f"SELECT * FROM {relation}")


def test_internal_roles_see_every_tenant(admin_url: str, even_and_refreshed: str) -> None:
    url = login_url(admin_url, even_and_refreshed, "business_analysts")
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as analyst:
        for relation in (*TENANT_FACING, "tenant_period_figures"):
            assert {r["tenant_id"] for r in analyst.execute(f"SELECT * FROM {relation}")} == {
                A,
                B,
                C,
            }, relation
        lines = analyst.execute("SELECT line FROM shared_infrastructure_cost ORDER BY 1").fetchall()
        assert [r["line"] for r in lines] == ["no_active_subscription"]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            analyst.execute("DELETE FROM tenant_period_figures")
    url = login_url(admin_url, even_and_refreshed, "db_administrators")
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as dba:
        attribute(dba)  # a DBA member recomputes the figures and sees every tenant
        assert len(dba.execute("SELECT * FROM tenant_business_rollup").fetchall()) == 3


# ---- the migration itself ----------------------------------------------------------------------


def test_migration_round_trip_keeps_the_setting(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    with psycopg.connect(empty_url, row_factory=dict_row, autocommit=True) as conn:
        set_rule(conn, "emails_sent")
    migrate.downgrade(empty_url, "0005")
    with psycopg.connect(empty_url, autocommit=True) as conn:
        gone = conn.execute(
            "SELECT to_regclass('executive_business_summary'), to_regclass('tenant_period_figures')"
        ).fetchone()
        assert gone == (None, None)
    migrate.upgrade(empty_url)
    with psycopg.connect(empty_url, autocommit=True) as conn:
        row = conn.execute("SELECT tenantcost_shared_cost_allocation()").fetchone()
        assert row == ("emails_sent",)  # the setting is data: it survived the downgrade
    migrate.downgrade(empty_url, "0005", drop_data=True)
    with psycopg.connect(empty_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM cost_settings WHERE key = 'shared_cost_allocation'"
        ).fetchone()
        assert row == (0,)


def test_offline_sql_shows_the_views_for_review() -> None:
    text = migrate.offline_sql("0010", downgrade_to=None)
    assert "CREATE VIEW executive_business_summary WITH (security_invoker = true)" in text
    assert "ALTER TABLE tenant_period_figures FORCE ROW LEVEL SECURITY" in text
