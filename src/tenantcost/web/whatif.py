"""The what-if page's form → the model's inputs → plain result rows (pure, no database).

Inputs: a shipped scenario, each tier's price (``price_<TIER>``), each tier's tenant count
(``count_<TIER>``) and a vCPU price multiplier (1 = the price book's rate). The results are
what ``tenantcost model cost|mix|plans|sensitivity`` print, computed by the same functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
from tenantcost.model.sensitivity import varied

MAX_MULTIPLIER = Decimal(100)
MAX_TENANTS = 10_000_000
MAX_PRICE = Decimal(1_000_000)  # per tier and month; far above any plan, keeps sums exact


@dataclass(frozen=True)
class WhatIfInputs:
    scenario: str
    prices: dict[str, Decimal]
    counts: dict[str, int]
    vcpu_multiplier: Decimal


# Plain decimals only: no sign, exponent, underscore, NaN or Infinity (``-0``, ``1_000``,
# ``1e999`` and ``1e-400`` are refused, not read as something else).
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,10})?")


def _decimal(text: str, what: str) -> Decimal:
    if not _PLAIN_DECIMAL.fullmatch(text.strip()):
        raise UserError(
            f"{what}: {text[:40]!r} is not a plain number of 0 or more",
            "write digits with an optional decimal point, e.g. 25 or 1.5 "
            "(at most 12 digits before it and 10 after)",
        )
    return Decimal(text.strip())


def parse_inputs(params: Mapping[str, str]) -> tuple[Scenario, WhatIfInputs]:
    """Validate the form against the chosen scenario; missing fields keep the scenario's values."""
    name = params.get("scenario") or "seed-002"
    if name not in shipped_scenario_names():
        raise UserError(f"no scenario named {name!r}", f"use {', '.join(shipped_scenario_names())}")
    scenario = load_scenario(name)
    base_counts = scenario.mix.resolved()
    prices: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
    for tier in scenario.tiers:
        price_text = params.get(f"price_{tier.name}")
        prices[tier.name] = (
            _decimal(price_text, f"price of {tier.name}") if price_text else tier.price_monthly
        )
        if prices[tier.name] > MAX_PRICE:
            raise UserError(f"price of {tier.name} {prices[tier.name]} is above {MAX_PRICE}")
        count_text = params.get(f"count_{tier.name}")
        if count_text:
            count = _decimal(count_text, f"{tier.name} tenants")
            if count != count.to_integral_value() or count > MAX_TENANTS:
                raise UserError(f"{tier.name} tenants: give a whole number up to {MAX_TENANTS}")
            counts[tier.name] = int(count)
        else:
            counts[tier.name] = base_counts.get(tier.name, 0)
    multiplier_text = params.get("vcpu_multiplier") or "1"
    multiplier = _decimal(multiplier_text, "vCPU price multiplier")
    if multiplier > MAX_MULTIPLIER:
        raise UserError(f"vCPU price multiplier {multiplier} is above {MAX_MULTIPLIER}")
    return scenario, WhatIfInputs(name, prices, counts, multiplier)


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
    base, inputs = parse_inputs(params)
    scenario = apply(base, inputs)
    mix = mix_result(scenario, inputs.counts)
    sweep = sensitivity(scenario, "vcpu-price", counts=inputs.counts)
    return {
        "inputs": {
            "scenario": inputs.scenario,
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
