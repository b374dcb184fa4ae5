"""Tier evaluation on a real database: hour-by-hour usage cost set by hand in the hourly and
daily tables (what the pricing step writes), and November 2026's figures computed from them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from tenantcost.attribution.ledger import attribute_period
from tenantcost.cli import app
from tenantcost.errors import UserError
from tenantcost.telemetry.timeutil import month_period
from tenantcost.tiers.evaluate import HOURS_PER_MONTH, evaluate_hour
from tenantcost.tiers.store import tier_from_input

pytestmark = pytest.mark.db
Conn = psycopg.Connection[dict[str, Any]]
H0 = datetime(2026, 11, 20, 0, tzinfo=UTC)
STARTER_CEILING = D("1.00")  # USD per month (seed 002 §6.4)
NOV = month_period("2026-11")


def hour(n: int) -> datetime:
    return H0 + timedelta(hours=n)


def add_tenant(conn: Conn, plan: str, name: str) -> uuid.UUID:
    tenant = uuid.uuid4()
    conn.execute("INSERT INTO companies (id, name) VALUES (%s, %s)", (tenant, name))
    conn.execute(
        "INSERT INTO subscriptions (tenant_id, plan_id, status, current_period_start, "
        "current_period_end) SELECT %s, id, 'active', %s, %s FROM plans WHERE name = %s",
        (tenant, H0, H0 + timedelta(days=30), plan),
    )
    return tenant


def book(conn: Conn, tenant: uuid.UUID, at: datetime, amount: D) -> None:
    """Usage cost of one hour, as the pricing step writes it: the hour and its day."""
    amount = amount.quantize(D("1e-12"))
    conn.execute(
        "INSERT INTO tenant_cost_hourly (tenant_id, hour, compute, cost) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (tenant_id, hour) DO UPDATE SET compute = EXCLUDED.compute, "
        "cost = EXCLUDED.cost",
        (tenant, at, amount, amount),
    )
    conn.execute(
        "INSERT INTO tenant_cost_daily (day, line, tenant_id, driver, source, kind, price_book, "
        "quantity, unit, unit_price, amount) VALUES (%s, 'tenant', %s, 'compute', "
        "'pg_stat_statements', 'estimated', 'test', 1, 'vCPU-second', %s, %s) "
        "ON CONFLICT (day, line, tenant_id, driver, source, price_book) "
        "DO UPDATE SET amount = tenant_cost_daily.amount + EXCLUDED.amount",
        (at.date(), tenant, amount, amount),
    )


def set_hour_cost(conn: Conn, tenant: uuid.UUID, n: int, monthly_run_rate: str) -> None:
    """Book the hour's cost so that × 730 hours it runs at ``monthly_run_rate`` a month."""
    book(conn, tenant, hour(n), D(monthly_run_rate) / HOURS_PER_MONTH)


def refresh(conn: Conn, n: int) -> None:
    """November 2026's figures as of the end of hour ``n`` (what the collector does)."""
    attribute_period(conn, NOV, as_of=hour(n + 1), reprice=False)


def accrued(monthly: str, n: int) -> D:
    """A monthly amount accrued to the end of hour n: 19 days and n+1 hours of 720 hours."""
    return (D(monthly) * D(19 * 24 + n + 1) / D(720)).quantize(D("1e-12"))


@pytest.fixture
def fleet(migrated_conn: Conn) -> dict[str, uuid.UUID]:
    conn = migrated_conn
    conn.execute(
        "INSERT INTO plans (name, price_monthly) VALUES ('Starter', 5), ('Free', 0), ('Pro', 25)"
    )
    conn.execute(
        "INSERT INTO plan_tiers SELECT id, upper(name) FROM plans WHERE name IN ('Starter', 'Free', 'Pro')"
    )
    tenants = {name: add_tenant(conn, "Starter", name) for name in ("acme", "calm")}
    conn.commit()
    return tenants


def signals(conn: Conn, tenant: uuid.UUID) -> list[tuple[int, str]]:
    rows = conn.execute(
        "SELECT hour, to_level FROM tier_decisions WHERE tenant_id = %s ORDER BY hour", (tenant,)
    ).fetchall()
    return [(int((r["hour"] - H0) / timedelta(hours=1)), r["to_level"]) for r in rows]


def run_hours(conn: Conn, tenant: uuid.UUID, rates: list[str], **kwargs: Any) -> None:
    for n, rate in enumerate(rates):
        set_hour_cost(conn, tenant, n, rate)
        refresh(conn, n)
        conn.commit()
        evaluate_hour(conn, hour(n), **kwargs)


def test_third_hour_over_the_ceiling_suggests_an_upgrade(
    migrated_conn: Conn, fleet: dict[str, uuid.UUID]
) -> None:
    acme = fleet["acme"]
    run_hours(migrated_conn, acme, ["1.10", "1.20"])
    assert signals(migrated_conn, acme) == []
    set_hour_cost(migrated_conn, acme, 2, "1.30")
    report = evaluate_hour(migrated_conn, hour(2))
    assert signals(migrated_conn, acme) == [(2, "suggest_upgrade")]
    evidence = report.decisions[0]
    assert evidence["ceiling"] == "cost" and evidence["ceiling_value"] == STARTER_CEILING
    # the run-rate is the hour's cost × 730; the ledger keeps 12 decimals of the hour's cost
    assert evidence["figure"] == (D("1.30") / 730).quantize(D("1e-12")) * 730
    assert evidence["episode_since"] == hour(0)
    # the calm tenant used nothing: no signal
    assert signals(migrated_conn, fleet["calm"]) == []


def test_soft_and_hard_throttle_at_once(migrated_conn: Conn, fleet: dict[str, uuid.UUID]) -> None:
    run_hours(migrated_conn, fleet["acme"], ["1.51", "2.01"])
    assert signals(migrated_conn, fleet["acme"]) == [(0, "soft_throttle"), (1, "hard_throttle")]
    active = migrated_conn.execute(
        "SELECT to_level FROM tier_decisions WHERE ended_at IS NULL AND tenant_id = %s",
        (fleet["acme"],),
    ).fetchall()
    assert active == [{"to_level": "hard_throttle"}]  # the soft signal ended when hard began


def test_recovery_waits_for_the_hysteresis_hours(
    migrated_conn: Conn, fleet: dict[str, uuid.UUID]
) -> None:
    run_hours(migrated_conn, fleet["acme"], ["2.50", "0.10", "0.10", "0.10"], step_down_hours=3)
    assert signals(migrated_conn, fleet["acme"]) == [(0, "hard_throttle"), (3, "normal")]


def test_re_evaluating_an_hour_changes_nothing(
    migrated_conn: Conn, fleet: dict[str, uuid.UUID]
) -> None:
    run_hours(migrated_conn, fleet["acme"], ["1.60"])
    again = evaluate_hour(migrated_conn, hour(0))
    assert again.skipped == 2 and again.tenants == 0 and again.decisions == []
    assert signals(migrated_conn, fleet["acme"]) == [(0, "soft_throttle")]


def test_cost_jump_baseline_median_and_mad_come_from_sql_exactly(
    migrated_conn: Conn, fleet: dict[str, uuid.UUID]
) -> None:
    """The 7-day baseline is summarised in SQL (size, median, MAD); the figures equal the
    ones worked by hand, for an even count whose two middle values differ."""
    conn = migrated_conn
    history = [D("0.10")] * 12 + [D("0.16")] + [D("0.20")] * 13  # 26 hours before hour 26
    for tenant in fleet.values():
        for n, cost in enumerate(history):
            book(conn, tenant, hour(n), cost)
    # Sorted, positions 13 and 14 (1-based) are 0.16 and 0.20 → median (0.16 + 0.20) ÷ 2 = 0.18.
    # |x − 0.18|: 0.08 × 12, 0.02 × 1, 0.02 × 13 → sorted positions 13 and 14 are both 0.02 →
    # MAD 0.02. acme at 0.30: z = 0.6745 × (0.30 − 0.18) ÷ 0.02 = 4.047 > 3.5 → a jump;
    # calm at 0.28: z = 0.6745 × 0.10 ÷ 0.02 = 3.3725 → none.
    book(conn, fleet["acme"], hour(26), D("0.30"))
    book(conn, fleet["calm"], hour(26), D("0.28"))
    conn.commit()
    report = evaluate_hour(conn, hour(26))
    jumps = [a for a in report.alerts_opened if a["kind"] == "cost_jump"]
    assert [a["subject"] for a in jumps] == [str(fleet["acme"])]
    details = conn.execute("SELECT details FROM tier_alerts WHERE kind = 'cost_jump'").fetchone()
    assert details is not None
    assert D(details["details"]["median"]) == D("0.18")
    assert D(details["details"]["mad"]) == D("0.02")
    assert D(details["details"]["z"]) == D("0.6745") * D("0.12") / D("0.02")  # 4.0470
    # Both tenants' states were written by the one set-based upsert.
    states = conn.execute("SELECT tenant_id, last_hour FROM tier_state").fetchall()
    assert {r["tenant_id"]: r["last_hour"] for r in states} == {
        fleet["acme"]: hour(26),
        fleet["calm"]: hour(26),
    }


def test_margin_alert_once_per_episode_and_closed_when_it_ends(
    migrated_conn: Conn, fleet: dict[str, uuid.UUID]
) -> None:
    conn = migrated_conn
    # STARTER revenue as of hour 0's end: 2 tenants × $5 accrued 457/720 = 6.35; book $4.00 in
    # one hour → margin (6.35 − 4) ÷ 6.35 = 37 % < 70 %.
    book(conn, fleet["acme"], hour(0), D(4))
    refresh(conn, 0)
    conn.commit()
    first = evaluate_hour(conn, hour(0))
    refresh(conn, 1)
    second = evaluate_hour(conn, hour(1))
    margin_alerts = conn.execute(
        "SELECT subject, opened_at, closed_at FROM tier_alerts WHERE kind = 'tier_margin'"
    ).fetchall()
    assert [a["kind"] for a in first.alerts_opened if a["kind"] == "tier_margin"] == ["tier_margin"]
    assert [a for a in second.alerts_opened if a["kind"] == "tier_margin"] == []  # same episode
    assert margin_alerts == [{"subject": "STARTER", "opened_at": hour(0), "closed_at": None}]
    # Raising the plan's price to $50 ends the episode: 2 × 50 × 459/720 = 63.75, 93.7 %.
    conn.execute("UPDATE plans SET price_monthly = 50 WHERE name = 'Starter'")
    refresh(conn, 2)
    conn.commit()
    third = evaluate_hour(conn, hour(2))
    assert third.alerts_closed >= 1
    closed = conn.execute("SELECT closed_at FROM tier_alerts WHERE kind = 'tier_margin'").fetchone()
    assert closed == {"closed_at": hour(2)}


def test_lowering_a_tier_price_below_the_floor_fires_the_margin_alert(
    migrated_conn: Conn, fleet: dict[str, uuid.UUID]
) -> None:
    conn = migrated_conn
    set_hour_cost(conn, fleet["acme"], 0, "730")  # $1.00 in the hour
    refresh(conn, 0)
    conn.commit()
    assert [
        a for a in evaluate_hour(conn, hour(0)).alerts_opened if a["kind"] == "tier_margin"
    ] == []  # revenue 2 × $5 accrued to 457/720 = 6.35, cost $1 → 84 %
    # The plan at $1.50: revenue 2 × 1.5 × 458/720 (hour 1's end), cost $1 → below 70 %.
    conn.execute("UPDATE plans SET price_monthly = 1.50 WHERE name = 'Starter'")
    refresh(conn, 1)
    conn.commit()
    opened = [a for a in evaluate_hour(conn, hour(1)).alerts_opened if a["kind"] == "tier_margin"]
    revenue = 2 * accrued("1.50", 1)
    margin = (revenue - D(1)) / revenue * 100
    assert f"{margin:.1f}" == "47.6"  # (1.908333 − 1) ÷ 1.908333
    assert len(opened) == 1 and f"{margin:.1f}%" in opened[0]["message"]


def test_add_ons_and_discounts_enter_revenue(
    migrated_conn: Conn, fleet: dict[str, uuid.UUID]
) -> None:
    conn = migrated_conn
    sub = conn.execute(
        "SELECT id FROM subscriptions WHERE tenant_id = %s", (fleet["acme"],)
    ).fetchone()
    assert sub is not None
    conn.execute("INSERT INTO subscription_terms VALUES (%s, true, true)", (sub["id"],))
    conn.execute(
        "INSERT INTO subscription_addons VALUES (%s, 'priority_support', 1), (%s, 'extra_storage', 10)",
        (sub["id"], sub["id"]),
    )
    row = conn.execute(
        "SELECT subscription_revenue, addon_revenue, addon_cost, revenue "
        "FROM tenant_monthly_revenue WHERE tenant_id = %s",
        (fleet["acme"],),
    ).fetchone()
    # $5 × (1 − 0.15) × (1 − 0.10) = 3.825 → 3.83; add-ons 20 + 10 × 0.50 = 25;
    # their cost 1 + 10 × 0.25 = 3.50
    assert row == {
        "subscription_revenue": D("3.83"),
        "addon_revenue": D("25.00"),
        "addon_cost": D("3.5000"),
        "revenue": D("28.83"),
    }


def test_free_tier_abuse_groups_with_combined_cost(migrated_conn: Conn) -> None:
    conn = migrated_conn
    conn.execute("INSERT INTO plans (name, price_monthly) VALUES ('Free', 0)")
    conn.execute("INSERT INTO plan_tiers SELECT id, 'FREE' FROM plans WHERE name = 'Free'")
    twins = [add_tenant(conn, "Free", f"twin{i}") for i in range(3)]
    loner = add_tenant(conn, "Free", "loner")
    for t in twins:
        conn.execute("INSERT INTO tenant_signups VALUES (%s, 'tempbox.test', '198.51.100.7')", (t,))
    conn.execute("INSERT INTO tenant_signups VALUES (%s, 'loner.test', NULL)", (loner,))
    for t, cost in zip(twins, ("0.10", "0.20", "0.05"), strict=True):
        book(conn, t, hour(0), D(cost))
    refresh(conn, 0)
    conn.commit()
    from tenantcost.tiers.store import sql

    rows = conn.execute(sql("free_abuse"), {"threshold": 3}).fetchall()
    assert [(r["signal"], r["shared_value"], r["tenants"]) for r in rows] == [
        ("email_domain", "tempbox.test", 3),
        ("signup_ip", "198.51.100.7", 3),
    ]
    assert rows[0]["combined_cost"] == D("0.35")  # 0.10 + 0.20 + 0.05 (no fixed costs)


def test_tier_validation_names_the_field() -> None:
    with pytest.raises(UserError, match="cost_ceiling"):
        tier_from_input(name="GOLD", monthly_price="10", cost_ceiling="-1")
    with pytest.raises(UserError, match="name"):
        tier_from_input(name="gold", monthly_price="10", cost_ceiling="1")


def test_tiers_cli_set_list_link(use_database: str) -> None:
    runner = CliRunner()
    with psycopg.connect(use_database) as conn:
        conn.execute("INSERT INTO plans (name, price_monthly) VALUES ('Gold', 50)")
    new_tier = [
        "tiers",
        "set",
        "GOLD",
        "--price",
        "50",
        "--cost-ceiling",
        "10",
        "--reason",
        "launch",
    ]
    assert runner.invoke(app, new_tier).exit_code == 0
    change = ["tiers", "set", "GOLD", "--storage-gb", "20", "--price", "50", "--reason", "bigger"]
    assert runner.invoke(app, change).exit_code == 0
    with psycopg.connect(use_database) as conn:
        audit = conn.execute(
            "SELECT entity, entity_id, old_value, new_value, source, reason FROM cost_audit"
            " WHERE entity_id LIKE 'tier GOLD.%' ORDER BY id"
        ).fetchall()
    # New tier: one row per field that got a value; the change: only storage (the price
    # given again is unchanged, so no row).
    assert ("setting", "tier GOLD.monthly_price", None, "50", "cli", "launch") in audit
    assert ("setting", "tier GOLD.cost_ceiling", None, "10", "cli", "launch") in audit
    changed = [row for row in audit if row[5] == "bigger"]
    assert [(r[1], r[2], r[3]) for r in changed] == [("tier GOLD.storage_gb_ceiling", None, "20")]
    no_reason = runner.invoke(app, ["tiers", "set", "GOLD", "--price", "60", "--reason", " "])
    assert no_reason.exit_code != 0 and "--reason" in no_reason.output
    assert runner.invoke(app, ["tiers", "link", "Gold", "GOLD"]).exit_code != 0  # no reason
    linked = runner.invoke(app, ["tiers", "link", "Gold", "GOLD", "--reason", "gold plan"])
    assert linked.exit_code == 0, linked.output
    again = runner.invoke(app, ["tiers", "link", "Gold", "GOLD", "--reason", "again"])
    assert again.exit_code == 0
    with psycopg.connect(use_database) as c:
        links = c.execute(
            "SELECT old_value, new_value, source, reason FROM cost_audit"
            " WHERE entity = 'setting' AND entity_id = 'plan Gold.tier'"
        ).fetchall()
    assert links == [(None, "GOLD", "cli", "gold plan")]  # the unchanged re-link adds none
    listed = {
        r["name"]: r
        for r in json.loads(runner.invoke(app, ["tiers", "list", "--format", "json"]).output)
    }
    assert listed["GOLD"]["cost_ceiling"] == "10.0000"  # kept when only storage changed
    assert listed["GOLD"]["storage_gb_ceiling"] == "20.000"
    assert listed["GOLD"]["plans"] == "Gold"
    assert listed["STARTER"]["cost_ceiling"] == "1.0000"
    bad = runner.invoke(app, ["tiers", "set", "NEW", "--price", "5", "--reason", "new"])
    assert bad.exit_code == 2 and "--cost-ceiling" in bad.output


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("TENANTCOST_WEBHOOK_URL", raising=False)
    yield


def test_step_down_hours_come_from_the_audited_setting(
    migrated_conn: Conn, fleet: dict[str, uuid.UUID]
) -> None:
    from tenantcost.costs.store import set_setting

    set_setting(migrated_conn, "tier_step_down_hours", "2", "faster recovery")
    run_hours(migrated_conn, fleet["acme"], ["2.50", "0.10", "0.10"])
    assert signals(migrated_conn, fleet["acme"]) == [(0, "hard_throttle"), (2, "normal")]
    with pytest.raises(UserError, match="whole number"):
        set_setting(migrated_conn, "tier_step_down_hours", "2.5", "typo")
    with pytest.raises(UserError, match="smallest allowed"):
        set_setting(migrated_conn, "free_abuse_threshold", "1", "typo")
