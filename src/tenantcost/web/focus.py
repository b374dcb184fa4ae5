"""A period's ledger as FOCUS 1.3 Cost and Usage rows (FinOps Open Cost and Usage Spec).

Every ledger line of the month is one row, so the rows of a tenant (``x_TenantId``) sum to its
figure in every other surface. Lines that come from splitting a shared charge carry the 1.3
allocation columns: the origin charge is the host's usage of a driver (split by measured
usage; idle, unattributed and background are its unallocated remainder rows, with
``AllocatedResourceId`` null), the shared VPS or IP pool (split by ``shared_cost_allocation``;
``shared_unallocated`` is the remainder) or platform overhead (split by
``overhead_allocation``). ``AllocatedMethodDetails`` gives each row's ratio of its origin
charge; the ratios of one origin sum to 1 and the rows' costs to the origin's cost. Own VPS,
own IPs, add-ons and unsplit lines have null allocation columns. Figures are tenantcost's
internal approximations, never an invoice; a provisional month says so in ``x_Provisional``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError

FOCUS_VERSION = "1.3"
SCALE = Decimal("0.0000000001")  # 10 decimals: split rows still sum to their origin exactly
RATIO_SCALE = Decimal("0.000000000001")

FOCUS_COLUMNS = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "InvoiceIssuer",
    "ProviderName",
    "PublisherName",
    "HostProviderName",
    "ServiceProviderName",
    "PricingQuantity",
    "PricingUnit",
    "ServiceCategory",
    "ServiceName",
    "AllocatedMethodId",
    "AllocatedMethodDetails",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
    "x_TenantId",
    "x_CompanyName",
    "x_Line",
    "x_Driver",
    "x_Source",
    "x_Fidelity",
    "x_Provisional",
)
#: Columns FOCUS requires to be non-null on every row (the conformance test checks them).
REQUIRED = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeDescription",
    "ServiceCategory",
    "ServiceName",
    "ServiceProviderName",
    "HostProviderName",
)

SERVICE = {
    "compute": ("Compute", "Database compute (vCPU time)", "Usage"),
    "memory": ("Compute", "Database memory (RAM time)", "Usage"),
    "storage": ("Storage", "Database storage", "Usage"),
    "network": ("Networking", "Network egress", "Usage"),
    "usage": ("Compute", "Database usage (invoice remainder)", "Usage"),
    "vps": ("Compute", "Cloud VPS", "Purchase"),
    "shared_vps": ("Compute", "Cloud VPS (shared)", "Purchase"),
    "dedicated_ips": ("Networking", "Dedicated IP", "Purchase"),
    "shared_ips": ("Networking", "Dedicated IP (shared)", "Purchase"),
    "addons": ("Other", "Add-on delivery", "Purchase"),
    "platform_overhead": ("Other", "Platform overhead", "Usage"),
}
USAGE = ("compute", "memory", "storage", "network", "usage")
REMAINDER_LINES = ("idle", "unattributed", "background", "shared_unallocated")


def sql(name: str) -> str:
    return queries("tenantcost.web")[name]


@lru_cache(maxsize=256)
def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def origin(line: Mapping[str, Any], basis: str) -> str | None:
    """Which shared charge a line was split from (None: not a split)."""
    driver, kind = str(line["driver"]), str(line["line"])
    if driver in USAGE:
        return "usage" if basis == "invoice" else driver
    if driver in ("shared_vps", "shared_ips"):
        return driver
    if driver == "platform_overhead" and kind == "tenant":
        return "platform_overhead"
    return None


def method(origin_key: str, info: Mapping[str, Any]) -> str:
    if origin_key in ("shared_vps", "shared_ips"):
        return f"tenantcost:shared:{info['allocation_rule']}"
    if origin_key == "platform_overhead":
        return f"tenantcost:overhead:{info['overhead_rule']}"
    return f"tenantcost:usage:{info['basis']}"


def origin_sums(lines: Iterable[Mapping[str, Any]], basis: str) -> dict[str, Decimal]:
    """(pure) Each origin charge's cost: the sum of the lines split from it (``lines`` may be
    the ledger lines or their sums per line and driver)."""
    origins: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        key = origin(line, basis)
        if key is not None:
            origins[key] += Decimal(line["amount"])
    return origins


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
    category, name, charge = SERVICE.get(driver, ("Other", driver, "Usage"))
    amount = Decimal(line["amount"]).quantize(SCALE)
    usage = driver in USAGE or (driver == "platform_overhead" and line["line"] != "control_plane")
    host = provider if usage else "Hostwinds"
    key = origin(line, str(info["basis"]))
    allocated: dict[str, Any] = dict.fromkeys(
        (
            "AllocatedMethodId",
            "AllocatedMethodDetails",
            "AllocatedResourceId",
            "AllocatedResourceName",
            "AllocatedTags",
        )
    )
    if key is not None and origins[key]:
        ratio = (Decimal(line["amount"]) / origins[key]).quantize(RATIO_SCALE)
        remainder = line["line"] in REMAINDER_LINES
        allocated = {
            "AllocatedMethodId": method(key, info),
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
        "ChargeCategory": charge,
        "ChargeClass": None,
        "ChargeDescription": f"{name} — {line['line']} ({line['fidelity']}, {line['source']})",
        "InvoiceIssuer": host,
        "ProviderName": host,
        "PublisherName": host,
        "HostProviderName": host,
        "ServiceProviderName": host,
        "PricingQuantity": Decimal(line["quantity"]).quantize(RATIO_SCALE),
        "PricingUnit": line["unit"],
        "ServiceCategory": category,
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


def period_info(conn: Connection, period: str) -> Mapping[str, Any]:
    """The period's row (UserError when it was never attributed): checked before streaming."""
    info = conn.execute(sql("focus_period"), {"period": period}).fetchone()
    if info is None:
        raise UserError(f"no figures for {period}", f"run `tenantcost attribute --month {period}`")
    return info


def stream(
    conn: Connection, period: str, info: Mapping[str, Any], provider: str, *, batch: int = 5000
) -> Iterator[dict[str, Any]]:
    """The period's FOCUS rows, read through a server-side cursor ``batch`` lines at a time, so
    memory does not grow with the ledger: the origin charges' sums come first from one
    ``GROUP BY`` (the same ``origin_sums``). Use a connection of its own: the cursor holds a
    transaction until the last row."""
    sums = conn.execute(sql("focus_line_sums"), {"period": period}).fetchall()
    origins = origin_sums(sums, str(info["basis"]))
    host = provider.capitalize()
    with conn.transaction(), conn.cursor(name="tenantcost_focus_export") as cur:
        cur.itersize = batch
        cur.execute(sql("focus_lines"), {"period": period})
        for line in cur:
            yield _row(line, info, host, origins)


def default_period(conn: Connection) -> str | None:
    """The latest month that has ledger lines (what the export shows without ``period``)."""
    row = conn.execute(sql("focus_default_period")).fetchone()
    return row["period"] if row else None
