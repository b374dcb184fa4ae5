"""Tier margin, outlier and plan-price alerts over hand-set 30-day rows (no database)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from tenantcost.tiers.evaluate import outlier_alerts, plan_price_alerts, tier_margin_alerts


def row(
    tenant: str, tier: str, plan: str, price: str, revenue: str, usage: str, addon: str = "0"
) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "company_name": tenant.title(),
        "tier": tier,
        "margin_floor_pct": D(70),
        "plan_name": plan,
        "plan_price": D(price),
        "revenue": D(revenue),
        "usage_cost": D(usage),
        "addon_cost": D(addon),
    }


ROWS = [
    row("a", "STARTER", "Starter", "5", "5", "2.00", "0.50"),
    row("b", "STARTER", "Starter", "5", "5", "0.10"),
    row("c", "STARTER", "Starter", "5", "5", "0.30"),
    row("d", "PRO", "Pro", "25", "25", "1.00"),
]


def test_tier_margin_uses_usage_plus_add_on_cost() -> None:
    # STARTER: revenue 15, cost 2.00 + 0.50 + 0.10 + 0.30 = 2.90 → (15 − 2.90) ÷ 15 = 80.7 %: fine
    assert list(tier_margin_alerts(ROWS)) == []
    dear = [*ROWS, row("e", "STARTER", "Starter", "5", "5", "3.00")]
    # revenue 20, cost 2.90 + 3.00 = 5.90 → (20 − 5.90) ÷ 20 = 70.5 %: still at or above 70 %
    assert list(tier_margin_alerts(dear)) == []
    worse = [*ROWS, row("e", "STARTER", "Starter", "5", "5", "4.00")]
    # revenue 20, cost 6.90 → (20 − 6.90) ÷ 20 = 65.5 % < 70 %
    (alert,) = tier_margin_alerts(worse)
    assert alert.subject == "STARTER" and alert.details["margin_pct"] == D("65.5")


def test_outlier_against_the_tier_average_of_usage_only() -> None:
    # STARTER average usage (2.00 + 0.10 + 0.30) ÷ 3 = 0.80; a: 2.00 ÷ 0.80 = 250 % ≥ 150 %
    (alert,) = outlier_alerts(ROWS, D(150))
    assert alert.subject == "a" and alert.details["pct_of_avg"] == D(250)
    assert list(outlier_alerts(ROWS, D(260))) == []
    # PRO has a single tenant: no average to be an outlier of
    assert all(a.subject != "d" for a in outlier_alerts(ROWS, D(100)))


def test_paid_plan_above_its_price_and_free_plans_ignored() -> None:
    assert list(plan_price_alerts(ROWS)) == []
    costly = [
        *ROWS,
        row("f", "FREE", "Free", "0", "0", "9.00"),
        row("g", "PRO", "Pro", "25", "25", "60"),
    ]
    # Pro: (1.00 + 60) ÷ 2 = 30.50 > 25; Free is a loss leader and never alerts here
    (alert,) = plan_price_alerts(costly)
    assert alert.subject == "Pro" and alert.details["avg_cost"] == D("30.5")
