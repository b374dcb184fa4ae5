"""The what-if model, pinned by hand arithmetic on seed 002's own inputs."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantcost.model import (
    Scenario,
    Usage,
    bill,
    cheapest_from,
    cheapest_plan,
    compare_seed,
    load_scenario,
    mix_result,
    plan_bills,
    query_cost,
    sensitivity,
    tenants_before_credit,
    tier_costs,
    usage_cost,
)
from tenantcost.model.engine import margin_percent

VCPU, RAM, STORAGE, EGRESS = D("0.000002156"), D("0.000001078"), D("0.25"), D("0.10")
# Per tenant-month, written out from seed 002 section 2 (30 days, MB = GB / 1000).
FREE = (
    10 * 30 * D("0.05") * (D("0.1") * VCPU + D("0.020") * RAM)
    + D("0.1") * STORAGE
    + D("0.030") * EGRESS
)
STARTER = (
    50 * 30 * D("0.075") * (D("0.15") * VCPU + D("0.030") * RAM) + 2 * STORAGE + D("0.150") * EGRESS
)
PRO = (
    200 * 30 * D("0.1") * (D("0.2") * VCPU + D("0.050") * RAM) + 10 * STORAGE + D("0.600") * EGRESS
)
ENTERPRISE = 1000 * 30 * D("0.15") * (D("0.3") * VCPU + D("0.1") * RAM) + 50 * STORAGE + 3 * EGRESS


@pytest.fixture(scope="module")
def seed() -> Scenario:
    return load_scenario("seed-002")


def test_one_query_costs_what_section_1_multiplies_out(seed: Scenario) -> None:
    free = seed.tier("FREE")
    assert (
        query_cost(free, seed.book.rates)
        == D("0.1") * D("0.05") * VCPU + D("0.02") * D("0.05") * RAM
    )
    # 0.00000001078 + 0.000000001078; the seed rounds the sum to $0.00000001186
    assert query_cost(free, seed.book.rates) == D("0.000000011858")


def test_each_tier_costs_its_usage(seed: Scenario) -> None:
    costs = {c.tier: c for c in tier_costs(seed)}
    assert costs["FREE"].usage.compute == 300 * D("0.05") * D("0.1") * VCPU  # 0.000003234
    assert costs["FREE"].usage.compute == D("0.000003234")
    assert [costs[t].total for t in ("FREE", "STARTER", "PRO", "ENTERPRISE")] == [
        FREE,
        STARTER,
        PRO,
        ENTERPRISE,
    ]
    assert costs["STARTER"].margin_percent == (5 - STARTER) / 5 * 100
    assert costs["FREE"].margin_percent is None  # no revenue, no margin


def test_a_100_tenant_mix(seed: Scenario) -> None:
    result = mix_result(seed, {"FREE": 70, "STARTER": 20, "PRO": 8, "ENTERPRISE": 2})
    usage = 70 * FREE + 20 * STARTER + 8 * PRO + 2 * ENTERPRISE
    assert result.usage_cost == usage
    assert result.base_cost == usage + 30
    assert result.base_revenue == 20 * 5 + 8 * 25 + 2 * 100
    assert result.base_margin_percent == (500 - (usage + 30)) / 500 * 100
    burst = D("0.3") * 8  # 30% of PRO take burst scaling
    assert result.addon_revenue == burst * 30
    assert result.total_cost == usage + 30 + burst * D("4.75")


def test_hobby_break_even_for_all_free(seed: Scenario) -> None:
    fits = tenants_before_credit(seed, "Hobby", "FREE")
    assert fits == 178  # 5 / 0.0280035574 = 178.55
    assert 178 * FREE <= 5 < 179 * FREE


def test_plan_choice_when_usage_equals_the_credit(tmp_path: Path, seed: Scenario) -> None:
    hobby, developer, _team = seed.book.plans
    assert bill(hobby, D(5)) == 5 and bill(developer, D(5)) == 20
    assert bill(hobby, D(20)) == bill(developer, D(20)) == 20  # tie: stay on the smaller plan
    assert cheapest_plan(list(seed.book.plans), D(20)) == hobby
    text = (Path(__file__).parent / "../../scenarios/seed-002.toml").read_text()
    # One tier costing exactly $1.00: 4 GB x $0.25, no queries, no egress.
    one_dollar = (
        '[[tiers]]\nname = "FLAT"\nprice_monthly = 2\nqueries_per_day = 0\n'
        "avg_query_seconds = 0\navg_vcpu_per_query = 0\navg_ram_gb_per_query = 0\n"
        "storage_gb = 4\negress_gb_month = 0\n\n"
    )
    text = text.replace("[[tiers]]", one_dollar + "[[tiers]]", 1)
    path = tmp_path / "flat.toml"
    path.write_text(text, encoding="utf-8")
    flat = load_scenario(path)
    assert tenants_before_credit(flat, "Hobby", "FLAT") == 5  # 5 x $1 == $5 still fits
    assert cheapest_from(flat, "Developer", "FLAT") == 20  # usage $20 == credit $20
    rows = {b.plan: b for b in plan_bills(flat, {"FLAT": 5})}
    assert rows["Hobby"].bill == 5 and rows["Hobby"].overage == 0 and rows["Hobby"].cheapest
    assert rows["Team"].cheapest_from == 100


def test_conversion_sweep_reproduces_appendix_b_rows(seed: Scenario) -> None:
    points = sensitivity(seed, "conversion", [D(10), D(20), D(30)])
    tenants = [(800, 150, 40, 10), (700, 200, 80, 20), (600, 250, 120, 30)]
    for point, (f, s, p, e) in zip(points, tenants, strict=True):
        assert [line.tenants for line in point.result.lines] == [f, s, p, e]
        assert point.result.base_revenue == s * 5 + p * 25 + e * 100
        assert point.result.base_cost == f * FREE + s * STARTER + p * PRO + e * ENTERPRISE + 30
    assert [p.result.base_revenue for p in points] == [2750, 5000, 7250]


def test_vcpu_price_change_moves_only_compute(seed: Scenario) -> None:
    base, up = sensitivity(seed, "vcpu-price", [D(0), D(25)])
    counts = seed.mix.resolved()
    extra = D("0.25") * sum(counts[c.tier] * c.usage.compute for c in tier_costs(seed))
    assert up.result.base_cost - base.result.base_cost == extra


def test_compare_seed_pins_the_x1000_error_and_the_margin() -> None:
    checks = {(c.claim.ref, c.claim.label): c for c in compare_seed()}
    free_cpu = checks[("§2.1", "FREE query execution: vCPU")]
    assert free_cpu.computed == 300 * D("0.05") * D("0.1") * VCPU  # seed: $0.0032
    assert not free_cpu.holds and free_cpu.ratio == D("0.000003234") / D("0.0032")
    margin = checks[("§4.3", "gross margin")]
    cost = 700 * FREE + 200 * STARTER + 80 * PRO + 20 * ENTERPRISE + 30
    assert margin.computed == (5000 - cost) / 5000 * 100 and not margin.holds
    assert checks[("§4.2", "total monthly revenue")].holds
    assert checks[("App. A", "PRO cost (appendix formula)")].computed == (
        D("0.025") * 20 + D("0.075") * 10 + 10 * STORAGE + 5 * EGRESS + D(30) / 1000
    )


sizes = st.decimals(min_value=0, max_value=10_000, places=4)


@settings(max_examples=60, deadline=None)
@given(
    base=st.fixed_dictionaries({f: sizes for f in Usage.model_fields}),
    field=st.sampled_from(sorted(Usage.model_fields)),
    bump=st.decimals(min_value=0, max_value=1000, places=3),
)
def test_cost_is_monotonic_in_every_usage_input(base: dict[str, D], field: str, bump: D) -> None:
    rates = load_scenario("seed-002").book.rates
    before = usage_cost(Usage(**base), rates, D(30)).total
    after = usage_cost(Usage(**{**base, field: base[field] + bump}), rates, D(30)).total
    assert after >= before


@given(price=st.decimals(min_value=0, max_value=10**6, places=2), cost=sizes)
def test_margin_never_exceeds_100_percent(price: D, cost: D) -> None:
    margin = margin_percent(price, cost)
    assert margin is None or margin <= 100
