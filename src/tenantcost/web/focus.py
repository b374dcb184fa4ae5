"""Cost rows in FOCUS 1.2 columns (FinOps Open Cost and Usage Specification).

Usage from the attribution ledger (bottom-up lines: compute, memory, storage, network, and
VPS/IPs where the ledger carries them) becomes ``Usage`` / ``Purchase`` rows. Without ledger
lines for VPS and IPs, the export adds the fixed monthly costs: per tenant,
its VPS (own + allocated shared) and its dedicated IPs, plus what no tenant is charged, as
``Purchase`` rows for the current calendar month (UTC; periods start-inclusive,
end-exclusive). The tenant is the tag column ``x_TenantId``. Figures are tenantcost's
approximations (``approximate_cost``), not the provider's invoice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

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
    "PricingQuantity",
    "PricingUnit",
    "ServiceCategory",
    "ServiceName",
    "x_TenantId",
    "x_CompanyName",
    "x_Line",
    "x_Source",
)

PROVIDER = "Hostwinds"


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


def month_of(moment: datetime) -> Period:
    """The calendar month (UTC) containing ``moment``."""
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return Period(start, end)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fixed_row(
    *,
    period: Period,
    amount: Decimal,
    service: str,
    tenant_id: Any,
    company_name: str | None,
    line: str,
) -> dict[str, Any]:
    """One monthly Purchase row for a fixed cost (VPS or dedicated IPs)."""
    vps = service == "vps"
    return {
        "BilledCost": amount,
        "EffectiveCost": amount,
        "ListCost": amount,
        "ContractedCost": amount,
        "BillingAccountId": "hostwinds",
        "BillingAccountName": "Hostwinds (approximate_cost)",
        "BillingCurrency": "USD",
        "BillingPeriodStart": _iso(period.start),
        "BillingPeriodEnd": _iso(period.end),
        "ChargePeriodStart": _iso(period.start),
        "ChargePeriodEnd": _iso(period.end),
        "ChargeCategory": "Purchase",
        "ChargeClass": None,
        "ChargeDescription": (
            "Monthly VPS cost (approximate, per tenant)"
            if vps
            else "Monthly dedicated SMTP IP cost (approximate, per tenant)"
        ),
        "InvoiceIssuer": PROVIDER,
        "ProviderName": PROVIDER,
        "PublisherName": PROVIDER,
        "PricingQuantity": Decimal(1),
        "PricingUnit": "Month",
        "ServiceCategory": "Compute" if vps else "Networking",
        "ServiceName": "Cloud VPS" if vps else "Dedicated IP",
        "x_TenantId": tenant_id,
        "x_CompanyName": company_name,
        "x_Line": line,
        "x_Source": "approximate_cost",
    }


def fixed_rows(
    tenants: Iterable[Mapping[str, Any]], shared: Iterable[Mapping[str, Any]], period: Period
) -> list[dict[str, Any]]:
    """Per tenant a VPS and an IP row (zero amounts left out), then the unallocated lines."""
    rows: list[dict[str, Any]] = []
    sources: list[tuple[Mapping[str, Any], str, str, str]] = [
        (t, "infrastructure_costs", "email_service_costs", "tenant") for t in tenants
    ] + [(s, "infrastructure_cost", "email_service_cost", str(s["line"])) for s in shared]
    for row, vps_key, ip_key, line in sources:
        for service, key in (("vps", vps_key), ("ip", ip_key)):
            amount = Decimal(row[key])
            if amount:
                rows.append(
                    fixed_row(
                        period=period,
                        amount=amount,
                        service=service,
                        tenant_id=row.get("tenant_id"),
                        company_name=row.get("company_name"),
                        line=line,
                    )
                )
    return rows


SERVICE = {
    "compute": ("Compute", "Database compute (vCPU time)", "Usage"),
    "memory": ("Compute", "Database memory (RAM time)", "Usage"),
    "storage": ("Storage", "Database storage", "Usage"),
    "network": ("Networking", "Network egress", "Usage"),
    "vps": ("Compute", "Cloud VPS", "Purchase"),
    "dedicated_ips": ("Networking", "Dedicated IP", "Purchase"),
    "invoice": ("Other", "Host invoice", "Usage"),
}


def ledger_row(line: Mapping[str, Any], period: Period) -> dict[str, Any]:
    """One ledger line (tenant or idle) as a FOCUS row; amount = quantity x unit price."""
    category, name, charge = SERVICE.get(
        str(line["driver"]), ("Other", str(line["driver"]), "Usage")
    )
    amount = Decimal(line["amount"])
    idle = line["line"] == "idle"
    return {
        "BilledCost": amount,
        "EffectiveCost": amount,
        "ListCost": amount,
        "ContractedCost": amount,
        "BillingAccountId": str(line["price_book"]),
        "BillingAccountName": f"priced with {line['price_book']}",
        "BillingCurrency": line["currency"],
        "BillingPeriodStart": _iso(period.start),
        "BillingPeriodEnd": _iso(period.end),
        "ChargePeriodStart": _iso(line["period_start"]),
        "ChargePeriodEnd": _iso(line["period_end"]),
        "ChargeCategory": charge,
        "ChargeClass": None,
        "ChargeDescription": f"{name} ({'idle, attributed to no tenant' if idle else 'per tenant'})",
        "InvoiceIssuer": str(line["price_book"]),
        "ProviderName": str(line["price_book"]),
        "PublisherName": str(line["price_book"]),
        "PricingQuantity": line["quantity"],
        "PricingUnit": line["unit"],
        "ServiceCategory": category,
        "ServiceName": name,
        "x_TenantId": line["tenant_id"],
        "x_CompanyName": line["company_name"],
        "x_Line": line["line"],
        "x_Source": "tenant_cost_ledger",
    }


def parse_month(text: str | None, now: datetime) -> Period:
    """``YYYY-MM`` (UTC) or, when absent, the current month."""
    if not text:
        return month_of(now)
    try:
        start = datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        from tenantcost.errors import UserError

        raise UserError(f"period {text!r} is not a month", "use YYYY-MM, e.g. 2026-11") from None
    return month_of(start)
