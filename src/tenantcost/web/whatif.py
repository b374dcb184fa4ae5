"""The what-if page's form → the model's inputs → plain result rows (pure, no database).

Inputs: a shipped scenario, each tier's price (``price_<TIER>``), each tier's tenant count
(``count_<TIER>``) and a vCPU price multiplier (1 = the price book's rate). The results are
what ``tenantcost model cost|mix|plans|sensitivity`` print, computed by the same functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tenantcost.errors import UserError
from tenantcost.model import (
    Scenario,
    load_scenario,
    mix_result,
    plan_bills,
    sensitivity,
    shipped_scenario_names,
    tier_costs,
)
from tenantcost.model.engine import margin_percent
from tenantcost.model.sensitivity import varied
from tenantcost.numbers import parse_decimal, parse_integer

MAX_MULTIPLIER = Decimal(100)
MAX_TENANTS = 10_000_000
MAX_PRICE = Decimal(1_000_000)  # per tier and month; far above any plan, keeps sums exact


@dataclass(frozen=True)
class WhatIfInputs:
    scenario: str
    prices: dict[str, Decimal]
    counts: dict[str, int]
    vcpu_multiplier: Decimal


@dataclass
class WhatIfForm:
    """The form as the user typed it, what each field means, and what is wrong with it.

    ``typed`` keeps every field's text (blank stays blank: the page shows the scenario's value
    as its placeholder); ``errors`` names the bad fields (the results use the scenario's value
    for them); ``defaults`` is each field's scenario value; ``defaulted`` the fields left blank.
    """

    scenario: Scenario
    inputs: WhatIfInputs
    typed: dict[str, str]
    defaults: dict[str, str]
    errors: dict[str, str]
    defaulted: list[str]


FIELD_NAMES = {"vcpu_multiplier": "vCPU price multiplier"}


def field_name(key: str) -> str:
    """How the page names a form field (``price_PRO`` → "price of PRO")."""
    if key.startswith("price_"):
        return f"price of {key[6:]}"
    if key.startswith("count_"):
        return f"{key[6:]} tenants"
    return FIELD_NAMES.get(key, key)


def _count(text: str, what: str) -> int:
    return parse_integer(text, what=what, maximum=MAX_TENANTS, example="120")


def _price(text: str, what: str) -> Decimal:
    return parse_decimal(text, what=what, maximum=MAX_PRICE, places=10, example="25")


def _multiplier(text: str, what: str) -> Decimal:
    return parse_decimal(text, what=what, maximum=MAX_MULTIPLIER, places=10, example="1.5")


def parse_form(params: Mapping[str, str]) -> WhatIfForm:
    """(pure) Validate each field on its own: one bad field never discards the others."""
    name = params.get("scenario") or "seed-002"
    if name not in shipped_scenario_names():
        raise UserError(f"no scenario named {name!r}", f"use {', '.join(shipped_scenario_names())}")
    scenario = load_scenario(name)
    base_counts = scenario.mix.resolved()
    defaults: dict[str, Any] = {}
    for tier in scenario.tiers:
        defaults[f"price_{tier.name}"] = tier.price_monthly
        defaults[f"count_{tier.name}"] = base_counts.get(tier.name, 0)
    defaults["vcpu_multiplier"] = Decimal(1)
    typed: dict[str, str] = {k: (params.get(k) or "").strip() for k in defaults}
    values: dict[str, Any] = dict(defaults)
    errors: dict[str, str] = {}
    defaulted: list[str] = []
    for key, text in typed.items():
        if not text:
            defaulted.append(key)
            continue
        parse = _price if key.startswith("price_") else _count
        if key == "vcpu_multiplier":
            parse = _multiplier
        try:
            values[key] = parse(text, field_name(key))
        except UserError as exc:
            errors[key] = exc.message + (f" — {exc.hint}" if exc.hint else "")
    inputs = WhatIfInputs(
        name,
        {t.name: values[f"price_{t.name}"] for t in scenario.tiers},
        {t.name: int(values[f"count_{t.name}"]) for t in scenario.tiers},
        values["vcpu_multiplier"],
    )
    return WhatIfForm(
        scenario, inputs, typed, {k: str(v) for k, v in defaults.items()}, errors, defaulted
    )


def parse_inputs(params: Mapping[str, str]) -> tuple[Scenario, WhatIfInputs]:
    """Validate the form against the chosen scenario; missing fields keep the scenario's
    values; the first bad field is a UserError (the API's answer)."""
    form = parse_form(params)
    if form.errors:
        raise UserError(next(iter(form.errors.values())))
    return form.scenario, form.inputs


def apply(scenario: Scenario, inputs: WhatIfInputs) -> Scenario:
    """The scenario with the form's tier prices and vCPU price multiplier."""
    tiers = [t.model_copy(update={"price_monthly": inputs.prices[t.name]}) for t in scenario.tiers]
    changed = scenario.model_copy(update={"tiers": tiers})
    if inputs.vcpu_multiplier != 1:
        changed = varied(changed, "vcpu-price", (inputs.vcpu_multiplier - 1) * 100)
    return changed


def _r(value: Decimal | None, places: int = 2) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def run(params: Mapping[str, str]) -> dict[str, Any]:
    """Everything the page and ``/api/v1/whatif`` show for the form's inputs."""
    return results(*parse_inputs(params))


def results(base: Scenario, inputs: WhatIfInputs) -> dict[str, Any]:
    """The model's results for validated inputs (plain values)."""
    scenario = apply(base, inputs)
    mix = mix_result(scenario, inputs.counts)
    sweep = sensitivity(scenario, "vcpu-price", counts=inputs.counts)
    return {
        "inputs": {
            "scenario": inputs.scenario,
            "description": scenario.description,
            "price_book": scenario.book.name,
            "prices": inputs.prices,
            "counts": inputs.counts,
            "vcpu_multiplier": inputs.vcpu_multiplier,
        },
        "scenarios": shipped_scenario_names(),
        "tiers": [
            {
                "tier": c.tier,
                "price": _r(c.price),
                "compute": _r(c.usage.compute, 6),
                "memory": _r(c.usage.memory, 6),
                "storage": _r(c.usage.storage, 6),
                "egress": _r(c.usage.egress, 6),
                "cost_per_tenant": _r(c.total, 6),
                "cost_per_query": _r(c.cost_per_query, 10),
                "margin_pct": _r(c.margin_percent, 1),
            }
            for c in tier_costs(scenario)
        ],
        "mix": {
            "tenants": mix.tenants,
            "lines": [
                {
                    "tier": line.tier,
                    "tenants": line.tenants,
                    "usage_cost": _r(line.usage_cost),
                    "revenue": _r(line.revenue),
                    "margin_pct": _r(line.margin_percent, 1),
                }
                for line in mix.lines
            ],
            "usage_cost": _r(mix.usage_cost),
            "control_plane": _r(mix.control_plane),
            "addon_cost": _r(mix.addon_cost),
            "addon_revenue": _r(mix.addon_revenue),
            "tier_revenue": _r(mix.tier_revenue),
            "discount": _r(mix.discount),
            "base_cost": _r(mix.base_cost),
            "base_revenue": _r(mix.base_revenue),
            "base_margin_pct": _r(mix.base_margin_percent, 1),
            "total_cost": _r(mix.total_cost),
            "revenue": _r(mix.revenue),
            "gross_profit": _r(mix.gross_profit),
            "margin_pct": _r(mix.margin_percent, 1),
        },
        "plans": [
            {
                "plan": b.plan,
                "subscription": _r(b.subscription),
                "credit": _r(b.credit),
                "host_usage": _r(b.host_usage),
                "bill": _r(b.bill),
                "cheapest": b.cheapest,
                "fits_mix": b.fits_mix,
                "cheapest_from": b.cheapest_from,
            }
            for b in plan_bills(scenario, inputs.counts)
        ],
        "vcpu_sensitivity": [
            {
                "vcpu_price_change_pct": p.value,
                "total_cost": _r(p.result.total_cost),
                "margin_pct": _r(p.result.margin_percent, 1),
            }
            for p in sweep
        ],
    }


# ----------------------------------------------------------------------------- own plans


def replayed_subscription(row: Mapping[str, Any], new_price: Decimal) -> Decimal:
    """(pure) A tenant-month's subscription revenue had its plan cost ``new_price``: the
    measured revenue scaled by new ÷ list price (same discounts, same accrual); for a $0 plan,
    new price × discount factor × the month's covered share."""
    list_price = Decimal(row["list_price"])
    if list_price > 0:
        return Decimal(row["subscription_revenue"]) * new_price / list_price
    return new_price * Decimal(row["discount_factor"]) * Decimal(row["fraction"])


def replay_months(rows: Iterable[Mapping[str, Any]], new_price: Decimal) -> list[dict[str, Any]]:
    """(pure) A plan's measured months replayed at ``new_price``: per month the tenants,
    revenue before and after (add-ons unchanged), the cost (unchanged: what they used), and
    profit and margin before and after. Rows: tenant_period_figures of the plan's tenants."""
    months: dict[str, dict[str, Any]] = {}
    for row in rows:
        month = months.setdefault(
            row["period"],
            {
                "period": row["period"],
                "status": row["status"],
                "tenants": 0,
                "revenue_before": Decimal(0),
                "revenue_after": Decimal(0),
                "cost": Decimal(0),
            },
        )
        addons = Decimal(row["addon_revenue"])
        month["tenants"] += 1
        month["revenue_before"] += Decimal(row["subscription_revenue"]) + addons
        month["revenue_after"] += replayed_subscription(row, new_price) + addons
        month["cost"] += Decimal(row["cost"])
    out = []
    for key in sorted(months):
        m = months[key]
        m["profit_before"] = m["revenue_before"] - m["cost"]
        m["profit_after"] = m["revenue_after"] - m["cost"]
        m["margin_before_pct"] = margin_percent(m["revenue_before"], m["cost"])
        m["margin_after_pct"] = margin_percent(m["revenue_after"], m["cost"])
        out.append(m)
    return out


def parse_own(
    params: Mapping[str, str], plans: Iterable[str], tier_prices: Mapping[str, Decimal]
) -> tuple[str | None, Decimal | None, dict[str, str]]:
    """(pure) The "our own plans" form: the plan, and the new price (typed in ``own_price``,
    or a tier's price from ``own_tier``); errors per field. No plan chosen: nothing to do."""
    plan = (params.get("own_plan") or "").strip()
    price_text = (params.get("own_price") or "").strip()
    tier = (params.get("own_tier") or "").strip()
    errors: dict[str, str] = {}
    if not plan:
        return None, None, errors
    if plan not in set(plans):
        errors["own_plan"] = f"no plan {plan!r} has figures"
    price: Decimal | None = None
    if price_text and tier:
        errors["own_price"] = "give a new price or a tier, not both"
    elif price_text:
        try:
            price = _price(price_text, "new price")
        except UserError as exc:
            errors["own_price"] = exc.message
    elif tier:
        if tier in tier_prices:
            price = Decimal(tier_prices[tier])
        else:
            errors["own_tier"] = f"no tier {tier!r}"
    else:
        errors["own_price"] = "give the plan's new price (USD/month) or pick a tier"
    return (None, None, errors) if errors else (plan, price, errors)
