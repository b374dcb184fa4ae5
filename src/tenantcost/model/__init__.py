"""What-if pricing and capacity models (seed 002): pure functions, no database.

The dashboard's what-if page and the ``tenantcost model`` CLI call the same API.
"""

from __future__ import annotations

from tenantcost.model.engine import (
    MixResult,
    TierCost,
    TierLine,
    UsageCost,
    mix_result,
    query_cost,
    tier_costs,
    usage_cost,
)
from tenantcost.model.plans import (
    PlanBill,
    bill,
    cheapest_from,
    cheapest_plan,
    plan_bills,
    tenants_before_credit,
)
from tenantcost.model.scenario import Scenario, Usage, load_scenario, shipped_scenario_names
from tenantcost.model.seed import ClaimCheck, compare_seed
from tenantcost.model.sensitivity import SensitivityPoint, sensitivity, write_chart

__all__ = [
    "ClaimCheck",
    "MixResult",
    "PlanBill",
    "Scenario",
    "SensitivityPoint",
    "TierCost",
    "TierLine",
    "Usage",
    "UsageCost",
    "bill",
    "cheapest_from",
    "cheapest_plan",
    "compare_seed",
    "load_scenario",
    "mix_result",
    "plan_bills",
    "query_cost",
    "sensitivity",
    "shipped_scenario_names",
    "tenants_before_credit",
    "tier_costs",
    "usage_cost",
    "write_chart",
]
