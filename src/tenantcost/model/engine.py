"""The what-if arithmetic: usage x rates -> per-tier cost, mix margin, plan bills, capacity.

Pure functions over a loaded ``Scenario``; results are frozen dataclasses of exact Decimals
(presentation rounding happens in the CLI). Definitions:

- tier cost (per tenant-month) = compute + memory + storage + egress, where
  compute = queries/day x days x avg seconds x avg vCPU x vCPU rate/s and
  memory = queries/day x days x avg seconds x avg RAM GB x RAM rate/s.
  Compute and memory are billed only while a query runs (seed 002 section 1's model).
- cost per query = (compute + memory) / queries: one query's execution cost.
- margin % = (revenue - cost) / revenue x 100; undefined (None) when revenue is 0. It can be
  very negative and never exceeds 100 because cost >= 0.
- mix base cost = tenant usage + control plane (seed section 4's definition: usage at list
  rates; the plan subscription and credit are reported by ``plan_bills``); total cost adds
  the add-ons' cost.
- base revenue = tier prices x tenants - discounts; revenue adds add-on revenue. Section 4
  compares base figures, section 9 B "total with add-ons" the totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from tenantcost.model.scenario import AddOn, Scenario, Usage
from tenantcost.pricing.book import Rates

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class UsageCost:
    """The monthly cost of one usage profile, by component."""

    queries_per_month: Decimal
    vcpu_seconds: Decimal
    gb_seconds: Decimal
    compute: Decimal
    memory: Decimal
    storage: Decimal
    egress: Decimal

    @property
    def total(self) -> Decimal:
        return self.compute + self.memory + self.storage + self.egress

    @property
    def execution(self) -> Decimal:
        """Compute + memory: the part that is billed only while queries run."""
        return self.compute + self.memory


@dataclass(frozen=True)
class TierCost:
    """One tier's monthly cost per tenant, its price and margin."""

    tier: str
    price: Decimal
    usage: UsageCost
    cost_per_query: Decimal | None
    margin_percent: Decimal | None

    @property
    def total(self) -> Decimal:
        return self.usage.total


@dataclass(frozen=True)
class TierLine:
    """One tier's share of a mix."""

    tier: str
    tenants: Decimal
    usage_cost: Decimal
    revenue: Decimal
    margin_percent: Decimal | None


@dataclass(frozen=True)
class MixResult:
    """Blended cost, revenue and gross margin of a tenant mix for one month."""

    tenants: Decimal
    lines: tuple[TierLine, ...]
    compute: Decimal
    memory: Decimal
    storage: Decimal
    egress: Decimal
    usage_cost: Decimal
    control_plane: Decimal
    addon_cost: Decimal
    addon_usage: Decimal
    tier_revenue: Decimal
    discount: Decimal
    addon_revenue: Decimal

    @property
    def base_cost(self) -> Decimal:
        """Cost without add-ons: tenant usage + control plane (seed section 4.1)."""
        return self.usage_cost + self.control_plane

    @property
    def base_revenue(self) -> Decimal:
        """Tier subscriptions after discounts, without add-ons (seed section 4.2)."""
        return self.tier_revenue - self.discount

    @property
    def base_margin_percent(self) -> Decimal | None:
        """Gross margin of the tiers alone (seed section 4.3)."""
        return margin_percent(self.base_revenue, self.base_cost)

    @property
    def total_cost(self) -> Decimal:
        return self.base_cost + self.addon_cost

    @property
    def revenue(self) -> Decimal:
        return self.base_revenue + self.addon_revenue

    @property
    def gross_profit(self) -> Decimal:
        return self.revenue - self.total_cost

    @property
    def margin_percent(self) -> Decimal | None:
        return margin_percent(self.revenue, self.total_cost)

    @property
    def host_usage(self) -> Decimal:
        """Usage the hosting plan bills: tenants' usage plus add-ons' extra usage."""
        return self.usage_cost + self.addon_usage

    @property
    def usage_per_tenant(self) -> Decimal | None:
        """Average tenant's usage cost: what one more tenant of this mix adds."""
        return self.usage_cost / self.tenants if self.tenants else None


def margin_percent(revenue: Decimal, cost: Decimal) -> Decimal | None:
    """(revenue - cost) / revenue x 100, or None when there is no revenue."""
    return (revenue - cost) / revenue * HUNDRED if revenue else None


def usage_cost(usage: Usage, rates: Rates, days_per_month: Decimal) -> UsageCost:
    """Price one tenant-month of ``usage`` at ``rates``."""
    queries = usage.queries_per_day * days_per_month
    busy_seconds = queries * usage.avg_query_seconds
    vcpu_seconds = busy_seconds * usage.avg_vcpu_per_query
    gb_seconds = busy_seconds * usage.avg_ram_gb_per_query
    return UsageCost(
        queries_per_month=queries,
        vcpu_seconds=vcpu_seconds,
        gb_seconds=gb_seconds,
        compute=vcpu_seconds * rates.vcpu_per_second,
        memory=gb_seconds * rates.ram_gb_per_second,
        storage=usage.storage_gb * rates.storage_gb_month,
        egress=usage.egress_gb_month * rates.egress_gb,
    )


def query_cost(usage: Usage, rates: Rates) -> Decimal:
    """The execution cost of one average query of this profile (seed section 1)."""
    per_vcpu = usage.avg_vcpu_per_query * rates.vcpu_per_second
    per_ram = usage.avg_ram_gb_per_query * rates.ram_gb_per_second
    return usage.avg_query_seconds * (per_vcpu + per_ram)


def tier_costs(scenario: Scenario) -> list[TierCost]:
    """Each tier's monthly cost per tenant, broken into compute, memory, storage, egress."""
    out = []
    for tier in scenario.tiers:
        cost = usage_cost(tier, scenario.book.rates, scenario.days_per_month)
        per_query = cost.execution / cost.queries_per_month if cost.queries_per_month else None
        out.append(
            TierCost(
                tier=tier.name,
                price=tier.price_monthly,
                usage=cost,
                cost_per_query=per_query,
                margin_percent=margin_percent(tier.price_monthly, cost.total),
            )
        )
    return out


def addon_unit_usage(scenario: Scenario, addon: AddOn) -> Decimal:
    """Host usage one subscriber of an add-on adds: its extra usage priced with the book."""
    if addon.extra_usage is None:
        return ZERO
    priced = usage_cost(addon.extra_usage, scenario.book.rates, scenario.days_per_month)
    return addon.quantity * priced.total


def addon_unit_cost(scenario: Scenario, addon: AddOn) -> Decimal:
    """Our cost for one subscriber of an add-on: explicit cost plus priced extra usage."""
    return addon.quantity * addon.cost_per_unit + addon_unit_usage(scenario, addon)


def addon_subscribers(addon: AddOn, counts: Mapping[str, Decimal]) -> Decimal:
    """How many tenants take an add-on: its take rate of its tier (or of all tenants)."""
    eligible = counts.get(addon.tier, ZERO) if addon.tier else sum(counts.values(), ZERO)
    return eligible * addon.take_rate_percent / HUNDRED


def discount_amount(scenario: Scenario, tier_revenue: Decimal) -> Decimal:
    """Expected discount: discounts apply independently, so their factors multiply."""
    kept = Decimal(1)
    for d in scenario.discounts:
        kept *= 1 - d.take_rate_percent / HUNDRED * d.percent / HUNDRED
    return tier_revenue * (1 - kept)


def _counts(scenario: Scenario, counts: Mapping[str, int | Decimal]) -> dict[str, Decimal]:
    for name in counts:
        scenario.tier(name)  # raises a UserError naming the unknown tier
    canonical = {scenario.tier(k).name: Decimal(v) for k, v in counts.items()}
    return {t.name: canonical.get(t.name, ZERO) for t in scenario.tiers}


def mix_result(scenario: Scenario, counts: Mapping[str, int | Decimal]) -> MixResult:
    """Cost, revenue and gross margin of a tenant mix (seed section 4)."""
    n = _counts(scenario, counts)
    costs = {c.tier: c for c in tier_costs(scenario)}
    lines = tuple(
        TierLine(
            tier=t,
            tenants=k,
            usage_cost=k * costs[t].total,
            revenue=k * costs[t].price,
            margin_percent=costs[t].margin_percent,
        )
        for t, k in n.items()
    )
    tier_revenue = sum((line.revenue for line in lines), ZERO)
    subs = [(a, addon_subscribers(a, n)) for a in scenario.addons]
    return MixResult(
        tenants=sum(n.values(), ZERO),
        lines=lines,
        compute=sum((k * costs[t].usage.compute for t, k in n.items()), ZERO),
        memory=sum((k * costs[t].usage.memory for t, k in n.items()), ZERO),
        storage=sum((k * costs[t].usage.storage for t, k in n.items()), ZERO),
        egress=sum((k * costs[t].usage.egress for t, k in n.items()), ZERO),
        usage_cost=sum((line.usage_cost for line in lines), ZERO),
        control_plane=scenario.control_plane_monthly,
        addon_cost=sum((s * addon_unit_cost(scenario, a) for a, s in subs), ZERO),
        addon_usage=sum((s * addon_unit_usage(scenario, a) for a, s in subs), ZERO),
        tier_revenue=tier_revenue,
        discount=discount_amount(scenario, tier_revenue),
        addon_revenue=sum((s * a.quantity * a.price_per_unit for a, s in subs), ZERO),
    )
