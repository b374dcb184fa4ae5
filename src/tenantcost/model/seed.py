"""``compare-seed``: every figure seed 002 states beside the figure its own inputs give.

The STATED column is data (the seed's claims, quoted with their section). The COMPUTED column
always comes from the model run on ``scenarios/seed-002.toml`` and the ``seed-002`` price book.
A claim *holds* when the computed figure, rounded to the claim's own precision (ROUND_HALF_UP),
equals it or falls inside its stated range. Appendix A uses a different formula
(vCPU x $20 + RAM GB x $10 + storage GB x $0.25 + network GB x $0.10 + overhead); its lines
are computed from the appendix's own table inputs and labelled as such.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from tenantcost.model.engine import (
    HUNDRED,
    MixResult,
    TierCost,
    addon_subscribers,
    addon_unit_cost,
    mix_result,
    tier_costs,
)
from tenantcost.model.plans import bill, cheapest_from, tenants_before_credit
from tenantcost.model.scenario import Scenario, load_scenario

STARTER_PLUS = {"STARTER": 20, "PRO": 8, "ENTERPRISE": 2}  # section 5 "STARTER+ (no FREE)"
# Appendix A's table: vCPU, RAM MB, storage GB, network GB per tenant-month.
APPENDIX_A = {
    "FREE": ("0.002", "3", "0.5", "0.1"),
    "STARTER": ("0.008", "15", "2.0", "1.0"),
    "PRO": ("0.025", "75", "10.0", "5.0"),
    "ENTERPRISE": ("0.100", "250", "50.0", "20.0"),
}
APPENDIX_RATES = (Decimal(20), Decimal(10))  # appendix A formula: $20/vCPU, $10/GB RAM


@dataclass(frozen=True)
class Model:
    """The seed scenario and the model's answers the claims are checked against."""

    scenario: Scenario

    def tier(self, name: str) -> TierCost:
        return next(c for c in tier_costs(self.scenario) if c.tier == name)

    def mix(self, name_or_counts: str | Mapping[str, int]) -> MixResult:
        counts = (
            self.scenario.named_mix(name_or_counts)
            if isinstance(name_or_counts, str)
            else name_or_counts
        )
        return mix_result(self.scenario, counts)

    def fits(self, plan: str, profile: str | Mapping[str, int]) -> Decimal:
        return _int(tenants_before_credit(self.scenario, plan, _profile(self, profile)))

    def upgrade_at(self, plan: str, profile: str | Mapping[str, int]) -> Decimal:
        return _int(cheapest_from(self.scenario, plan, _profile(self, profile)))

    def appendix_cost(self, tier: str) -> Decimal:
        vcpu, ram_mb, storage, network = (Decimal(v) for v in APPENDIX_A[tier])
        rates = self.scenario.book.rates
        overhead = self.scenario.control_plane_monthly / self.mix("default").tenants
        return (
            vcpu * APPENDIX_RATES[0]
            + ram_mb / 1000 * APPENDIX_RATES[1]
            + storage * rates.storage_gb_month
            + network * rates.egress_gb
            + overhead
        )


def _profile(model: Model, profile: str | Mapping[str, int]) -> str | Mapping[str, int]:
    if isinstance(profile, str) and profile in model.scenario.mixes:
        return model.scenario.named_mix(profile)
    return profile


def _int(value: int | None) -> Decimal:
    return Decimal(-1) if value is None else Decimal(value)


@dataclass(frozen=True)
class Claim:
    """One figure the seed states: where, what, as quoted, and its value or range."""

    ref: str
    label: str
    stated: str
    low: Decimal
    high: Decimal
    places: int
    unit: str  # usd | percent | tenants | yes/no
    compute: Callable[[Model], Decimal]
    note: str = ""


@dataclass(frozen=True)
class ClaimCheck:
    """A claim with the model's figure and whether the claim holds."""

    claim: Claim
    computed: Decimal

    @property
    def rounded(self) -> Decimal:
        return self.computed.quantize(Decimal(1).scaleb(-self.claim.places), ROUND_HALF_UP)

    @property
    def holds(self) -> bool:
        return self.claim.low <= self.rounded <= self.claim.high

    @property
    def difference(self) -> Decimal | None:
        """Computed minus stated, for single-valued claims."""
        return None if self.claim.low != self.claim.high else self.computed - self.claim.low

    @property
    def ratio(self) -> Decimal | None:
        """Computed / stated: shows the x1000 compute error at a glance."""
        if self.claim.low != self.claim.high or not self.claim.low:
            return None
        return self.computed / self.claim.low


def _claim(
    ref: str,
    label: str,
    stated: str,
    value: str | tuple[str, str],
    unit: str,
    compute: Callable[[Model], Decimal],
    note: str = "",
) -> Claim:
    low, high = (value, value) if isinstance(value, str) else value
    exponent = Decimal(low).as_tuple().exponent
    places = max(-exponent, 0) if isinstance(exponent, int) else 0
    return Claim(ref, label, stated, Decimal(low), Decimal(high), places, unit, compute, note)


def _on_tier(tier: str, get: Callable[[TierCost], Decimal]) -> Callable[[Model], Decimal]:
    """A claim's computation reading one figure of one tier's cost."""
    return lambda m: get(m.tier(tier))


def _on_mix(mix: str, get: Callable[[MixResult], Decimal]) -> Callable[[Model], Decimal]:
    """A claim's computation reading one figure of a named mix's result."""
    return lambda m: get(m.mix(mix))


def _appendix_cost(tier: str) -> Callable[[Model], Decimal]:
    return lambda m: m.appendix_cost(tier)


def _appendix_margin_of(tier: str) -> Callable[[Model], Decimal]:
    return lambda m: _appendix_margin(m, tier)


def _pct(value: Decimal | None) -> Decimal:
    return Decimal("NaN") if value is None else value


def _yes(value: bool) -> Decimal:
    return Decimal(1) if value else Decimal(0)


def _section_1() -> list[Claim]:
    def one_query(m: Model, part: str) -> Decimal:
        t, r = m.scenario.tier("FREE"), m.scenario.book.rates
        cpu = t.avg_query_seconds * t.avg_vcpu_per_query * r.vcpu_per_second
        ram = t.avg_query_seconds * t.avg_ram_gb_per_query * r.ram_gb_per_second
        return {"cpu": cpu, "ram": ram, "all": cpu + ram}[part]

    return [
        _claim(
            "§1",
            "vCPU rate per minute",
            "$0.000077616/vCPU/minute",
            "0.000077616",
            "usd",
            lambda m: m.scenario.book.rates.vcpu_per_second * 60,
            "the seed multiplied the per-second rate by 36, not 60",
        ),
        _claim(
            "§1",
            "RAM rate per minute",
            "$0.000038808/GB/minute",
            "0.000038808",
            "usd",
            lambda m: m.scenario.book.rates.ram_gb_per_second * 60,
            "x36 again",
        ),
        _claim(
            "§1",
            "one query: CPU (0.1 vCPU x 0.05 s)",
            "$0.00000001078",
            "0.00000001078",
            "usd",
            lambda m: one_query(m, "cpu"),
        ),
        _claim(
            "§1",
            "one query: RAM (0.02 GB x 0.05 s)",
            "$0.00000000108",
            "0.00000000108",
            "usd",
            lambda m: one_query(m, "ram"),
        ),
        _claim(
            "§1",
            "one query: total",
            "$0.00000001186",
            "0.00000001186",
            "usd",
            lambda m: one_query(m, "all"),
        ),
        _claim(
            "§1",
            "one query, rounded",
            "~$0.00001/query",
            "0.00001",
            "usd",
            lambda m: one_query(m, "all"),
            "rounding 1.186e-8 up to 1e-5 is the x1000 error",
        ),
        _claim(
            "§1",
            "FREE: 300 queries' cost",
            "300 x $0.00001 = $0.003",
            "0.003",
            "usd",
            lambda m: m.tier("FREE").usage.execution,
        ),
        _claim(
            "§1",
            "FREE: storage 100MB",
            "$0.025/month",
            "0.025",
            "usd",
            lambda m: m.tier("FREE").usage.storage,
        ),
        _claim(
            "§1",
            "FREE: monthly total",
            "~$0.028/month",
            "0.028",
            "usd",
            lambda m: m.tier("FREE").total,
            "holds only because the inflated query cost (0.003) stands in for the egress "
            "the example leaves out",
        ),
    ]


TIER_CLAIMS = {
    "FREE": ("§2.1", "0.0032", "0.0003", "0.0035", "0.025", "0.003", "0.03", None),
    "STARTER": ("§2.2", "0.036", "0.0036", "0.04", "0.50", "0.015", "0.56", "89"),
    "PRO": ("§2.3", "0.259", "0.032", "0.29", "2.50", "0.06", "2.85", "89"),
    "ENTERPRISE": ("§2.4", "2.91", "0.49", "3.40", "12.50", "0.30", "16.20", "84"),
}


def _tier_claims(tier: str) -> list[Claim]:
    ref, cpu, ram, both, storage, egress, total, margin = TIER_CLAIMS[tier]
    parts: list[tuple[str, str, Callable[[TierCost], Decimal]]] = [
        ("query execution: vCPU", cpu, lambda c: c.usage.compute),
        ("query execution: RAM", ram, lambda c: c.usage.memory),
        ("total compute", both, lambda c: c.usage.execution),
        ("storage", storage, lambda c: c.usage.storage),
        ("network egress", egress, lambda c: c.usage.egress),
        ("total per tenant-month", total, lambda c: c.total),
    ]
    claims = [
        _claim(ref, f"{tier} {label}", f"${value}", value, "usd", _on_tier(tier, fn))
        for label, value, fn in parts
    ]
    if margin is not None:
        claims.append(
            _claim(
                ref,
                f"{tier} gross margin",
                f"{margin}%",
                margin,
                "percent",
                lambda m: _pct(m.tier(tier).margin_percent),
            )
        )
    return claims


def _section_3() -> list[Claim]:
    return [
        _claim(
            "§3 A",
            "Hobby break-even, all FREE",
            "$5 / $0.03 = ~166 FREE tenants",
            "166",
            "tenants",
            lambda m: m.fits("Hobby", "FREE"),
            "model: most tenants with usage <= the $5 credit",
        ),
        _claim(
            "§3 A",
            "Hobby supports FREE tenants",
            "~150-200",
            ("150", "200"),
            "tenants",
            lambda m: m.fits("Hobby", "FREE"),
        ),
        _claim(
            "§3 B",
            "usage of 100 tenants (70/20/8/2)",
            "$68.50",
            "68.50",
            "usd",
            lambda m: m.mix("per-100").usage_cost,
        ),
        _claim(
            "§3 B",
            "mixed tenants before $5 usage",
            "~7-8",
            ("7", "8"),
            "tenants",
            lambda m: m.fits("Hobby", "per-100"),
        ),
        _claim(
            "§3",
            "Developer break-even, FREE tenants",
            "~350-400",
            ("350", "400"),
            "tenants",
            lambda m: m.fits("Developer", "FREE"),
        ),
        _claim(
            "§3",
            "Developer break-even, mixed tenants",
            "~30",
            "30",
            "tenants",
            lambda m: m.fits("Developer", "per-100"),
        ),
    ]


def _section_4() -> list[Claim]:
    def line(tier: str) -> Callable[[Model], Decimal]:
        return lambda m: next(x.usage_cost for x in m.mix("default").lines if x.tier == tier)

    def revenue(tier: str) -> Callable[[Model], Decimal]:
        return lambda m: next(x.revenue for x in m.mix("default").lines if x.tier == tier)

    def developer_overage(m: Model) -> Decimal:
        return m.mix("default").host_usage - m.scenario.book.plan("Developer").included_usage_credit

    return [
        _claim("§4.1", "FREE: 700 x $0.03", "$21.00", "21.00", "usd", line("FREE")),
        _claim("§4.1", "STARTER: 200 x $0.56", "$112.00", "112.00", "usd", line("STARTER")),
        _claim("§4.1", "PRO: 80 x $2.85", "$228.00", "228.00", "usd", line("PRO")),
        _claim("§4.1", "ENTERPRISE: 20 x $16.20", "$324.00", "324.00", "usd", line("ENTERPRISE")),
        _claim(
            "§4.1",
            "DLS control plane",
            "$30.00",
            "30.00",
            "usd",
            lambda m: m.mix("default").control_plane,
            "a scenario input",
        ),
        _claim(
            "§4.1",
            "total monthly cost",
            "$715.00",
            "715.00",
            "usd",
            lambda m: m.mix("default").base_cost,
        ),
        _claim(
            "§4.1",
            "Developer plan overage",
            "~$695",
            "695",
            "usd",
            developer_overage,
            "model: control plane kept off the host credit",
        ),
        _claim("§4.2", "STARTER revenue", "$1,000", "1000", "usd", revenue("STARTER")),
        _claim("§4.2", "PRO revenue", "$2,000", "2000", "usd", revenue("PRO")),
        _claim("§4.2", "ENTERPRISE revenue", "$2,000", "2000", "usd", revenue("ENTERPRISE")),
        _claim(
            "§4.2",
            "total monthly revenue",
            "$5,000",
            "5000",
            "usd",
            lambda m: m.mix("default").base_revenue,
        ),
        _claim(
            "§4.3",
            "revenue - cost",
            "$4,285",
            "4285",
            "usd",
            lambda m: m.mix("default").base_revenue - m.mix("default").base_cost,
        ),
        _claim(
            "§4.3",
            "gross margin",
            "85.7%",
            "85.7",
            "percent",
            lambda m: _pct(m.mix("default").base_margin_percent),
        ),
    ]


def _section_5() -> list[Claim]:
    def hobby_bill(m: Model) -> Decimal:
        amount = bill(m.scenario.book.plan("Hobby"), m.mix("default").host_usage)
        return Decimal("NaN") if amount is None else amount

    note = "model: first count at which the bigger plan costs no more (usage >= its credit)"
    return [
        _claim(
            "§5",
            "Hobby -> Developer: FREE tenants",
            "150-200",
            ("150", "200"),
            "tenants",
            lambda m: m.upgrade_at("Developer", "FREE"),
            note,
        ),
        _claim(
            "§5",
            "Hobby -> Developer: mixed tenants",
            "30-40",
            ("30", "40"),
            "tenants",
            lambda m: m.upgrade_at("Developer", "per-100"),
            note,
        ),
        _claim(
            "§5",
            "Hobby -> Developer: STARTER+ tenants",
            "15-20",
            ("15", "20"),
            "tenants",
            lambda m: m.upgrade_at("Developer", STARTER_PLUS),
            "STARTER+ = 20/8/2 mix",
        ),
        _claim(
            "§5",
            "Developer -> Team: FREE tenants",
            "700-800",
            ("700", "800"),
            "tenants",
            lambda m: m.upgrade_at("Team", "FREE"),
            note,
        ),
        _claim(
            "§5",
            "Developer -> Team: mixed tenants",
            "150-200",
            ("150", "200"),
            "tenants",
            lambda m: m.upgrade_at("Team", "per-100"),
            note,
        ),
        _claim(
            "§5",
            "Developer -> Team: STARTER+ tenants",
            "75-100",
            ("75", "100"),
            "tenants",
            lambda m: m.upgrade_at("Team", STARTER_PLUS),
            "STARTER+ = 20/8/2 mix",
        ),
        _claim(
            "§5",
            "10 STARTER customers' usage",
            "~$6/mo",
            "6",
            "usd",
            lambda m: 10 * m.tier("STARTER").total,
        ),
        _claim(
            "§5",
            "Hobby cost for the 1,000-tenant mix",
            "$10 max",
            "10",
            "usd",
            hobby_bill,
            "Hobby bills usage above the credit: nothing caps it at $10",
        ),
    ]


SCENARIOS_9 = [
    ("§9 A m1-3", "a-month-1-3", "2225", "978", "56"),
    ("§9 A m4-6", "a-month-4-6", "5000", "1161", "77"),
    ("§9 B", "b", "6250", "1420", "77"),
    ("§9 C", "c", "16000", "3590", "78"),
    ("App. B 10%", "conversion-10", "2850", "950", "67"),
    ("App. B 20%", "conversion-20", "5000", "1161", "77"),
    ("App. B 30%", "conversion-30", "7150", "1420", "80"),
]


def _scenario_claims() -> list[Claim]:
    claims = []
    for ref, mix, revenue, cost, margin in SCENARIOS_9:
        claims += [
            _claim(
                ref,
                f"{mix} revenue",
                f"${int(revenue):,}",
                revenue,
                "usd",
                _on_mix(mix, lambda r: r.base_revenue),
            ),
            _claim(
                ref,
                f"{mix} cost",
                f"${int(cost):,}",
                cost,
                "usd",
                _on_mix(mix, lambda r: r.base_cost),
            ),
            _claim(
                ref,
                f"{mix} margin",
                f"{margin}%",
                margin,
                "percent",
                _on_mix(mix, lambda r: _pct(r.base_margin_percent)),
            ),
        ]
    return claims


def _burst(m: Model) -> tuple[Decimal, Decimal, Decimal]:
    """Subscribers, revenue and cost of the burst-scaling add-on in scenario B's mix."""
    addon = next(a for a in m.scenario.addons if a.name == "burst-scaling")
    counts = {k: Decimal(v) for k, v in m.scenario.named_mix("b").items()}
    subs = addon_subscribers(addon, counts)
    revenue = subs * addon.quantity * addon.price_per_unit
    return subs, revenue, subs * addon_unit_cost(m.scenario, addon)


def _burst_claims() -> list[Claim]:
    def b(m: Model) -> MixResult:
        return m.mix("b")

    return [
        _claim(
            "§9 B",
            "burst add-on subscribers (30% of PRO)",
            "36 PRO tenants",
            "36",
            "tenants",
            lambda m: _burst(m)[0],
        ),
        _claim("§9 B", "burst add-on revenue", "$1,080/mo", "1080", "usd", lambda m: _burst(m)[1]),
        _claim(
            "§9 B",
            "burst add-on cost",
            "$171/mo",
            "171",
            "usd",
            lambda m: _burst(m)[2],
            "circular: the scenario's $4.75/subscriber cost is taken from this claim",
        ),
        _claim(
            "§9 B",
            "burst incremental margin",
            "84%",
            "84",
            "percent",
            lambda m: (_burst(m)[1] - _burst(m)[2]) / _burst(m)[1] * HUNDRED,
        ),
        _claim("§9 B", "revenue with add-ons", "$7,330/mo", "7330", "usd", lambda m: b(m).revenue),
        _claim("§9 B", "cost with add-ons", "$1,591/mo", "1591", "usd", lambda m: b(m).total_cost),
        _claim(
            "§9 B",
            "margin with add-ons",
            "78%",
            "78",
            "percent",
            lambda m: _pct(b(m).margin_percent),
        ),
    ]


BREAK_EVEN_13 = [
    ("dev-test", "0.30", True),
    ("early-mvp", "4.30", True),
    ("product-market-fit", "11.45", False),
    ("growth", "189.00", False),
    ("scale", "715.00", False),
]


def _section_13() -> list[Claim]:
    claims = []
    credit = Decimal(5)
    for mix, cost, viable in BREAK_EVEN_13:
        claims += [
            _claim(
                "§13 Q5",
                f"{mix} monthly cost",
                f"${cost}",
                cost,
                "usd",
                _on_mix(mix, lambda r: r.host_usage),
                "tenant usage, no control plane",
            ),
            _claim(
                "§13 Q5",
                f"{mix} Hobby viable",
                "Yes" if viable else "No",
                "1" if viable else "0",
                "yes/no",
                _on_mix(mix, lambda r: _yes(r.host_usage <= credit)),
            ),
        ]
    return claims


APPENDIX_STATED = {
    "FREE": ("0.18", None),
    "STARTER": ("0.94", "81"),
    "PRO": ("4.28", "83"),
    "ENTERPRISE": ("19.03", "81"),
}


def _appendix_a() -> list[Claim]:
    claims = []
    note = "appendix formula on the appendix's own inputs, overhead $30/1,000 tenants"
    for tier, (cost, margin) in APPENDIX_STATED.items():
        claims.append(
            _claim(
                "App. A",
                f"{tier} cost (appendix formula)",
                f"${cost}",
                cost,
                "usd",
                _appendix_cost(tier),
                note,
            )
        )
        if margin is not None:
            claims.append(
                _claim(
                    "§8.1",
                    f"{tier} margin at appendix cost",
                    f"{margin}%",
                    margin,
                    "percent",
                    _appendix_margin_of(tier),
                )
            )
    return claims


def _appendix_margin(m: Model, tier: str) -> Decimal:
    price = m.scenario.tier(tier).price_monthly
    return (price - m.appendix_cost(tier)) / price * HUNDRED


@cache
def seed_claims() -> tuple[Claim, ...]:
    """All of seed 002's checkable figures, in the seed's order."""
    tiers = [c for t in TIER_CLAIMS for c in _tier_claims(t)]
    return tuple(
        _section_1()
        + tiers
        + _section_3()
        + _section_4()
        + _section_5()
        + _scenario_claims()
        + _burst_claims()
        + _section_13()
        + _appendix_a()
    )


def compare_seed(scenario: Scenario | None = None) -> list[ClaimCheck]:
    """Check every seed claim against the model run on the seed's own inputs."""
    model = Model(scenario or load_scenario("seed-002"))
    return [ClaimCheck(claim, claim.compute(model)) for claim in seed_claims()]
