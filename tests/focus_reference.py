"""The FOCUS row builder in Python, as the export was written before PostgreSQL built it
(``focus.export_chunks``): the tests' reference for what the export must equal byte for byte.

Kept in the tests only: the product has one implementation of a FOCUS row (the SQL of
``focus_export``); this second, independent one is what it is checked against.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from tenantcost.web.focus import RATIO_SCALE, SCALE, _iso, _kind, origin_sums


def focus_rows(
    lines: Sequence[Mapping[str, Any]], info: Mapping[str, Any], provider: str
) -> list[dict[str, Any]]:
    """(pure) One FOCUS row per ledger line of the period ``info`` describes."""
    origins = origin_sums(lines, str(info["basis"]))
    return [_row(line, info, provider, origins) for line in lines]


def _row(
    line: Mapping[str, Any], info: Mapping[str, Any], provider: str, origins: Mapping[str, Decimal]
) -> dict[str, Any]:
    driver = str(line["driver"])
    kind = _kind(line, info, provider, origins)
    name, host = kind["service"], kind["host"]
    amount = Decimal(line["amount"]).quantize(SCALE)
    allocated: dict[str, Any] = dict.fromkeys(
        (
            "AllocatedMethodId",
            "AllocatedMethodDetails",
            "AllocatedResourceId",
            "AllocatedResourceName",
            "AllocatedTags",
        )
    )
    if kind["origin_total"] is not None:
        ratio = (Decimal(line["amount"]) / kind["origin_total"]).quantize(RATIO_SCALE)
        remainder = kind["remainder"]
        allocated = {
            "AllocatedMethodId": kind["method"],
            "AllocatedMethodDetails": json.dumps(
                {
                    "Elements": [
                        {
                            "AllocatedRatio": f"{ratio:f}",
                            "UsageUnit": line["unit"],
                            "UsageQuantity": f"{Decimal(line['quantity']):f}",
                        }
                    ]
                }
            ),
            "AllocatedResourceId": None if remainder else str(line["tenant_id"]),
            "AllocatedResourceName": line["line"] if remainder else line["company_name"],
            "AllocatedTags": None
            if remainder
            else json.dumps({"tenant_id": str(line["tenant_id"]), "plan": line["plan_name"]}),
        }
    period_end = info["period_end"]
    charge_end = info["covered_until"] if info["status"] == "provisional" else period_end
    return {
        "BilledCost": amount,
        "EffectiveCost": amount,
        "ListCost": amount,
        "ContractedCost": amount,
        "BillingAccountId": f"tenantcost:{host.lower()}",
        "BillingAccountName": f"{host} (tenantcost internal allocation)",
        "BillingCurrency": info["currency"],
        "BillingPeriodStart": _iso(info["period_start"]),
        "BillingPeriodEnd": _iso(period_end),
        "ChargePeriodStart": _iso(info["period_start"]),
        "ChargePeriodEnd": _iso(charge_end),
        "ChargeCategory": kind["charge"],
        "ChargeClass": None,
        "ChargeDescription": f"{name} — {line['line']} ({line['fidelity']}, {line['source']})",
        "InvoiceIssuer": host,
        "ProviderName": host,
        "PublisherName": host,
        "HostProviderName": host,
        "ServiceProviderName": host,
        "PricingQuantity": Decimal(line["quantity"]).quantize(RATIO_SCALE),
        "PricingUnit": line["unit"],
        "ServiceCategory": kind["category"],
        "ServiceName": name,
        **allocated,
        "x_TenantId": str(line["tenant_id"]) if line["tenant_id"] else None,
        "x_CompanyName": line["company_name"],
        "x_Line": line["line"],
        "x_Driver": driver,
        "x_Source": line["source"],
        "x_Fidelity": line["fidelity"],
        "x_Provisional": info["status"] == "provisional",
    }
