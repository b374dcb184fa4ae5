"""Hosting-plan economics: bills, headroom under the included credit, and upgrade points.

bill = subscription + max(0, host usage - included credit) (Railway's rule, seed section 3).
A plan that does not bill overage (Railway Free) is not viable once usage exceeds its credit.
Host usage is the tenants' usage plus add-ons' extra usage; the control-plane overhead is our
own cost line and counts as host usage only when the scenario sets ``control_plane_on_host``
(seed-002 leaves it off: section 4 lists it beside, not inside, the Railway usage).
Mix capacities count the mix's *average* tenant (so "8 tenants of 70/20/8/2" is fractional
tenants of each tier, as in seed section 3 scenario B).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from tenantcost.model.engine import ZERO, mix_result, tier_costs
from tenantcost.model.scenario import Scenario
from tenantcost.pricing.book import Plan

Profile = str | Mapping[str, int | Decimal]


@dataclass(frozen=True)
class PlanBill:
    """One plan's monthly bill for a mix and how far the mix can grow on it."""

    plan: str
    subscription: Decimal
    credit: Decimal
    host_usage: Decimal
    overage: Decimal | None
    bill: Decimal | None
    cheapest: bool
    fits_mix: int | None
    fits_by_tier: dict[str, int | None]
    cheapest_from: int | None


def bill(plan: Plan, usage: Decimal) -> Decimal | None:
    """The plan's bill for ``usage``; None when usage exceeds a credit that has no overage."""
    over = max(ZERO, usage - plan.included_usage_credit)
    if over and not plan.overage_billed:
        return None
    return plan.monthly_subscription + over


def fixed_host_usage(scenario: Scenario) -> Decimal:
    """Usage billed by the host whatever the tenant count (the control plane, if on the host)."""
    return scenario.control_plane_monthly if scenario.control_plane_on_host else ZERO


def usage_per_tenant(scenario: Scenario, profile: Profile) -> Decimal:
    """Host usage of one tenant of a tier (by name) or of a mix's average tenant."""
    if isinstance(profile, str):
        tier = scenario.tier(profile).name
        return next(c.total for c in tier_costs(scenario) if c.tier == tier)
    result = mix_result(scenario, profile)
    return result.host_usage / result.tenants if result.tenants else ZERO


def tenants_before_credit(scenario: Scenario, plan_name: str, profile: Profile) -> int | None:
    """Most tenants whose host usage stays within the plan's credit (equal still fits).

    None means unlimited (the profile uses nothing).
    """
    per_tenant = usage_per_tenant(scenario, profile)
    room = scenario.book.plan(plan_name).included_usage_credit - fixed_host_usage(scenario)
    if room < 0:
        return 0
    if per_tenant == 0:
        return None
    return int((room / per_tenant).to_integral_value(rounding=ROUND_FLOOR))


def cheapest_plans(plans: list[Plan], usage: Decimal) -> list[Plan]:
    """The viable plans with the lowest bill (several when they tie)."""
    bills = [(p, bill(p, usage)) for p in plans]
    viable = [(p, b) for p, b in bills if b is not None]
    if not viable:
        return []
    low = min(b for _, b in viable)
    return [p for p, b in viable if b == low]


def cheapest_plan(plans: list[Plan], usage: Decimal) -> Plan | None:
    """The plan to be on: lowest bill, ties going to the smaller subscription."""
    tied = cheapest_plans(plans, usage)
    return min(tied, key=lambda p: p.monthly_subscription) if tied else None


def _candidate_counts(plans: list[Plan], fixed: Decimal, per_tenant: Decimal) -> list[int]:
    """Tenant counts at and just past every usage where bills kink or cross.

    Bills are flat below a plan's credit and rise with slope 1 above it, so which plans are
    cheapest changes only at a credit or where one plan's flat part meets another's slope.
    """
    critical = {p.included_usage_credit for p in plans}
    critical |= {
        p.monthly_subscription - q.monthly_subscription + q.included_usage_credit
        for p in plans
        for q in plans
    }
    counts = {0}
    for usage in critical:
        if usage >= fixed:
            n = math.floor((usage - fixed) / per_tenant)
            counts |= {n, n + 1}
    return sorted(counts)


def cheapest_from(scenario: Scenario, plan_name: str, profile: Profile) -> int | None:
    """Fewest tenants of a profile from which ``plan_name`` costs no more than any other plan.

    This is the upgrade point: from here on, moving to this plan costs nothing extra.
    None when the plan is never among the cheapest.
    """
    plans = list(scenario.book.plans)
    target = scenario.book.plan(plan_name)
    fixed = fixed_host_usage(scenario)
    per_tenant = usage_per_tenant(scenario, profile)
    if per_tenant == 0:
        return 0 if target in cheapest_plans(plans, fixed) else None
    for n in _candidate_counts(plans, fixed, per_tenant):
        if target in cheapest_plans(plans, fixed + n * per_tenant):
            return n
    return None


def plan_bills(scenario: Scenario, counts: Mapping[str, int | Decimal]) -> list[PlanBill]:
    """Every plan's bill for a mix, its headroom per tier and for the mix, and upgrade point."""
    usage = mix_result(scenario, counts).host_usage + fixed_host_usage(scenario)
    best = cheapest_plan(list(scenario.book.plans), usage)
    rows = []
    for plan in scenario.book.plans:
        amount = bill(plan, usage)
        rows.append(
            PlanBill(
                plan=plan.name,
                subscription=plan.monthly_subscription,
                credit=plan.included_usage_credit,
                host_usage=usage,
                overage=None if amount is None else amount - plan.monthly_subscription,
                bill=amount,
                cheapest=plan == best,
                fits_mix=tenants_before_credit(scenario, plan.name, counts),
                fits_by_tier={
                    t.name: tenants_before_credit(scenario, plan.name, t.name)
                    for t in scenario.tiers
                },
                cheapest_from=cheapest_from(scenario, plan.name, counts),
            )
        )
    return rows
