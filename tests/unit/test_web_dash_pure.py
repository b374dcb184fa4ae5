"""Pure parts of what a person reads on the dashboard: labels, chart slices, the tier form,
the what-if form and the own-plan replay. Expected numbers are worked out by hand."""

from __future__ import annotations

from decimal import Decimal

from tenantcost.costs.store import SETTINGS
from tenantcost.web.labels import audit_label, column_label, setting_label, words
from tenantcost.web.pages import money_datasets, visible_slices
from tenantcost.web.tables import TABLES
from tenantcost.web.tier_changes import parse_tier_form
from tenantcost.web.whatif import parse_form, parse_own, replay_months, replayed_subscription

STARTER = {
    "name": "STARTER",
    "monthly_price": Decimal("5.00"),
    "cost_ceiling": Decimal("1.0000"),
    "storage_gb_ceiling": Decimal("2"),
    "requests_per_hour_ceiling": 50,
    "latency_target_ms": 200,
    "margin_floor_pct": Decimal("70"),
}
FORM = {
    "monthly_price": "5.00",
    "cost_ceiling": "1",
    "storage_gb_ceiling": "2",
    "requests_per_hour_ceiling": "50",
    "latency_target_ms": "200",
    "margin_floor_pct": "70",
}


def test_every_table_column_and_setting_has_a_human_label() -> None:
    for spec in TABLES.values():
        for column in spec.shown:
            label = column_label(column)
            assert "_" not in label and label != column, column
    assert column_label("gross_margin_ratio") == "Gross margin (ratio)"
    for key in SETTINGS:
        assert "_" not in setting_label(key).label, key
    kinds = {k: setting_label(k).kind for k in SETTINGS}
    assert kinds["smtp_ip_monthly_cost"] == "USD"
    assert kinds["annual_prepay_discount_pct"] == "percent"
    assert kinds["tier_step_down_hours"] == "hours"
    assert kinds["free_abuse_threshold"] == "count"
    assert kinds["overhead_allocation"] == "choice"
    assert setting_label("some_new_pct").field_label == "New value (percent, 0–100)"
    assert audit_label("tier PRO.cost_ceiling") == "Tier PRO: Cost ceiling (USD/month)"
    assert words("list_price") == "List price" and words("soft_throttle") == "Soft throttle"


def test_no_chart_slice_or_series_shows_zero_dollars() -> None:
    rows = [
        {"driver": "VPS", "amount": Decimal("40")},
        {"driver": "Compute", "amount": Decimal("0.004")},  # rounds to $0.00
        {"driver": "Memory", "amount": Decimal("0.005")},  # rounds half up to $0.01
    ]
    assert [r["driver"] for r in visible_slices(rows)] == ["VPS", "Memory"]
    series = [("Compute", [Decimal("0.001"), Decimal(0)]), ("VPS", [Decimal("30"), None])]
    assert money_datasets(series) == [{"label": "VPS", "values": [Decimal("30.00"), None]}]


def test_tier_form_names_each_bad_field_and_lists_changes() -> None:
    same = parse_tier_form(STARTER, FORM)
    assert same.errors == {} and same.changes == []  # 1 == 1.0000
    bad = parse_tier_form(STARTER, {**FORM, "cost_ceiling": "x", "latency_target_ms": "1.5"})
    assert set(bad.errors) == {"cost_ceiling", "latency_target_ms"}
    assert bad.errors["cost_ceiling"].startswith("Cost ceiling (USD/month): 'x' is not a number")
    assert bad.errors["latency_target_ms"].startswith("Latency target (ms): '1.5' is not a whole")
    # The columns' bounds: numeric(12,4) and 0-100 %, so nothing overflows in the database.
    too_big = parse_tier_form(
        STARTER, {**FORM, "cost_ceiling": "123456789", "margin_floor_pct": "100.5"}
    )
    assert "above the largest allowed 99999999.9999" in too_big.errors["cost_ceiling"]
    assert "above the largest allowed 100" in too_big.errors["margin_floor_pct"]
    fine = parse_tier_form(STARTER, {**FORM, "cost_ceiling": "1.23456"})
    assert "more than 4 decimals" in fine.errors["cost_ceiling"]
    assert (
        "is negative"
        in parse_tier_form(STARTER, {**FORM, "monthly_price": "-1"}).errors["monthly_price"]
    )
    assert bad.values["monthly_price"] == "5.00"  # kept as typed
    changed = parse_tier_form(STARTER, {**FORM, "monthly_price": "7.5", "latency_target_ms": ""})
    assert changed.errors == {}
    assert changed.changes == [("monthly_price", "5.00", "7.5"), ("latency_target_ms", "200", None)]
    assert parse_tier_form(STARTER, {**FORM, "cost_ceiling": ""}).errors == {
        "cost_ceiling": "Cost ceiling (USD/month) is required"
    }


def test_whatif_form_keeps_good_fields_when_one_is_bad() -> None:
    form = parse_form({"price_PRO": "30", "count_PRO": "abc", "price_STARTER": ""})
    assert form.inputs.prices["PRO"] == Decimal(30)  # the good field is used
    assert form.inputs.counts["PRO"] == 80  # seed 002's mix for the bad one
    assert set(form.errors) == {"count_PRO"}
    assert form.typed["count_PRO"] == "abc" and form.typed["price_STARTER"] == ""
    assert "price_STARTER" in form.defaulted and form.defaults["price_STARTER"] == "5"


def test_own_plan_form() -> None:
    prices = {"STARTER": Decimal(5)}
    assert parse_own({}, ["Basic"], prices) == (None, None, {})
    assert parse_own({"own_plan": "Basic", "own_tier": "STARTER"}, ["Basic"], prices) == (
        "Basic",
        Decimal(5),
        {},
    )
    _, _, errors = parse_own({"own_plan": "Basic", "own_price": "1", "own_tier": "X"}, [], prices)
    assert set(errors) == {"own_plan", "own_price"}
    assert parse_own({"own_plan": "Basic"}, ["Basic"], prices)[2] == {
        "own_price": "give the plan's new price (USD/month) or pick a tier"
    }


def test_replay_reprices_subscriptions_and_keeps_addons_and_cost() -> None:
    month = {"period": "2025-10", "status": "closed", "fraction": Decimal(1)}
    rows = [
        # $20 plan, annual pre-pay 15 %: 20 x 0.85 = 17.00 measured; add-ons 30.00; cost 12.
        {
            **month,
            "subscription_revenue": Decimal("17.00"),
            "addon_revenue": Decimal("30.00"),
            "cost": Decimal("12.00"),
            "list_price": Decimal("20"),
            "discount_factor": Decimal("0.85"),
        },
        # A second tenant, no discount, half the month covered (provisional accrual).
        {
            "period": "2025-11",
            "status": "provisional",
            "fraction": Decimal("0.5"),
            "subscription_revenue": Decimal("10.00"),
            "addon_revenue": Decimal(0),
            "cost": Decimal("4.00"),
            "list_price": Decimal("20"),
            "discount_factor": Decimal(1),
        },
    ]
    out = replay_months(rows, Decimal(30))
    # Oct: 17.00 x 30/20 = 25.50 + 30.00 = 55.50 (before 47.00); cost 12;
    #      margin (47 - 12)/47 = 74.468 %, (55.5 - 12)/55.5 = 78.378 %.
    # Nov: 10.00 x 30/20 = 15.00 (before 10.00); cost 4; margin 60 % -> 73.333 %.
    assert [(m["period"], m["revenue_before"], m["revenue_after"], m["cost"]) for m in out] == [
        ("2025-10", Decimal("47.00"), Decimal("55.50"), Decimal("12.00")),
        ("2025-11", Decimal("10.00"), Decimal("15.00"), Decimal("4.00")),
    ]
    assert round(out[0]["margin_before_pct"], 3) == Decimal("74.468")
    assert round(out[0]["margin_after_pct"], 3) == Decimal("78.378")
    assert out[1]["profit_after"] == Decimal("11.00")
    # A $0 plan has no price to scale: new price x discount factor x covered share.
    free = {**rows[1], "list_price": Decimal(0), "discount_factor": Decimal("0.9")}
    assert replayed_subscription(free, Decimal(10)) == Decimal("4.5")  # 10 x 0.9 x 0.5
    assert replay_months([], Decimal(1)) == []
