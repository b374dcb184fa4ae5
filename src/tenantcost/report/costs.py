"""Per-tenant cost, cost drivers and attribution quality of a period, read once for every
surface (``report tenant-costs`` / ``cost-drivers``, the dashboard, the API, the e-mailed report).

Rows are plain dicts with exact Decimals; presentation rounds them (``reports.quantize``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from tenantcost.attribution.arith import shares
from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.report.rollup import sql

#: Labels of the lines charged to no tenant, as people read them.
LINE_LABELS = {
    "unattributed": "(unattributed usage)",
    "background": "(background processes)",
    "idle": "(idle: host total not used by anyone)",
    "control_plane": "(platform control plane)",
    "shared_unallocated": "(shared VPS/IPs, not allocated)",
    "no_active_subscription": "(resources of companies without a subscription)",
}
TOTAL = "(total)"
DRIVER_LABELS = {
    "compute": "Compute",
    "memory": "Memory",
    "storage": "Storage",
    "network": "Network egress",
    "vps": "VPS",
    "dedicated_ips": "Dedicated IPs",
    "shared_vps": "Shared VPS (allocated)",
    "shared_ips": "Shared IPs (allocated)",
    "addons": "Add-on delivery",
    "platform_overhead": "Platform overhead (allocated)",
}
COST_COLUMNS = (
    "compute",
    "memory",
    "storage",
    "network",
    "vps_and_ips",
    "addons",
    "overhead",
    "total_cost",
)
TENANT_COST_COLUMNS = (
    "tenant_id",
    "company_name",
    "plan_name",
    *COST_COLUMNS,
    "share_pct",
    "revenue",
    "monthly_profit",
    "gross_margin_pct",
    "compute_source",
)


def require_period(conn: Connection, period: str) -> dict[str, Any]:
    row = conn.execute(sql("period"), {"period": period}).fetchone()
    if row is None:
        raise UserError(
            f"no figures for {period}",
            f"run `tenantcost attribute --month {period}` (after `tenantcost collect`)",
        )
    return dict(row)


def tenant_cost_rows(conn: Connection, period: str, top: int = 0) -> list[dict[str, Any]]:
    """Tenants by cost (highest first, ``top`` of them when > 0), then the lines charged to no
    tenant, then the period's total. ``share_pct`` is each row's share of that total."""
    info = require_period(conn, period)
    tenants = [dict(r) for r in conn.execute(sql("tenant_costs"), {"period": period})]
    others = [dict(r) for r in conn.execute(sql("non_tenant_lines"), {"period": period})]
    return assemble_tenant_costs(tenants, others, Decimal(info["total"]), top)


def assemble_tenant_costs(
    tenants: Sequence[Mapping[str, Any]],
    others: Sequence[Mapping[str, Any]],
    total: Decimal,
    top: int = 0,
) -> list[dict[str, Any]]:
    """(pure) Tenant rows, non-tenant rows labelled, a total row; shares of ``total``."""
    rows = [dict(t) for t in (tenants[:top] if top else tenants)]
    for line in others:
        label = LINE_LABELS.get(str(line["line"]), str(line["line"]))
        rows.append(
            {
                **{c: line.get(c, Decimal(0)) for c in COST_COLUMNS},
                "tenant_id": line.get("tenant_id"),
                "company_name": label,
                "plan_name": None,
            }
        )
    totals = {c: Decimal(0) for c in COST_COLUMNS}
    for row in [*tenants, *others]:
        for c in COST_COLUMNS:
            totals[c] += Decimal(row.get(c) or 0)
    rows.append({"tenant_id": None, "company_name": TOTAL, "plan_name": None, **totals})
    for row in rows:
        row["share_pct"] = row["total_cost"] * 100 / total if total else None
    return rows


#: How people read a line charged to no tenant, by (line, driver).
NON_TENANT_LABELS = {
    ("shared_unallocated", "shared_vps"): "Shared VPS, not allocated",
    ("shared_unallocated", "shared_ips"): "Shared IPs, not allocated",
    ("no_active_subscription", "vps"): "VPS of companies without a subscription",
    ("no_active_subscription", "dedicated_ips"): "IPs of companies without a subscription",
    ("control_plane", "platform_overhead"): "Platform control plane",
    ("idle", "usage"): "Idle: invoice not used by anyone",
}


def driver_label(line: str, driver: str) -> str:
    if line == "tenant":
        return DRIVER_LABELS.get(driver, driver)
    if (line, driver) in NON_TENANT_LABELS:
        return NON_TENANT_LABELS[(line, driver)]
    what = DRIVER_LABELS.get(driver, driver).lower()
    return {
        "idle": f"Idle {what} (host total not used)",
        "unattributed": f"Unattributed {what}",
        "background": f"Background {what} (server processes)",
    }.get(line, f"{line} {what}")


def driver_rows(conn: Connection, period: str) -> list[dict[str, Any]]:
    """The period's cost by driver, tenants' lines first, then what no tenant carries."""
    require_period(conn, period)
    found = [dict(r) for r in conn.execute(sql("drivers"), {"period": period})]
    return assemble_drivers(found)


def assemble_drivers(found: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """(pure) One row per (line, driver) with a human label and its share of the total;
    tenants' drivers first, largest first; lines no tenant carries after; nothing at zero."""
    keyed: dict[tuple[str, str], Decimal] = {}
    fidelity: dict[tuple[str, str], str] = {}
    for r in found:
        key = (str(r["line"]), str(r["driver"]))
        if not r["amount"]:
            continue
        keyed[key] = keyed.get(key, Decimal(0)) + Decimal(r["amount"])
        fidelity[key] = str(r.get("fidelity") or "")
    order = sorted(
        keyed,
        key=lambda k: (k[0] != "tenant", -keyed[k], k[0], k[1]),
    )
    pct = shares(keyed)
    rows = []
    for key in order:
        line, driver = key
        rows.append(
            {
                "driver": driver_label(line, driver),
                "line": line,
                "key": driver,
                "amount": keyed[key],
                "share_pct": pct[key],
                "fidelity": fidelity[key],
            }
        )
    total = sum(keyed.values(), Decimal(0))
    rows.append(
        {
            "driver": "Total",
            "line": "total",
            "key": "total",
            "amount": total,
            "share_pct": Decimal(100) if total else None,
            "fidelity": "",
        }
    )
    return rows


def quality(info: Mapping[str, Any]) -> dict[str, Any]:
    """(pure) Attribution quality of a period: shares of its usage total carried by tenants,
    by nobody (unattributed, background, idle), and the list-price usage's error against the
    imported invoice."""
    usage_total = (
        Decimal(info["tenant_usage"])
        + Decimal(info["unattributed"])
        + Decimal(info["background"])
        + Decimal(info["idle"])
    )

    def share(value: Any) -> Decimal | None:
        return Decimal(value) * 100 / usage_total if usage_total else None

    invoice = info.get("invoice_total")
    error = (
        (Decimal(info["list_usage"]) - Decimal(invoice)) * 100 / Decimal(invoice)
        if invoice
        else None
    )
    return {
        "period": info["period"],
        "status": info["status"],
        "covered_until": info["covered_until"],
        "basis": info["basis"],
        "usage_total": usage_total,
        "host_total": info.get("host_total"),
        "invoice_total": invoice,
        "tenant_share_pct": share(info["tenant_usage"]),
        "unattributed_share_pct": share(info["unattributed"]),
        "background_share_pct": share(info["background"]),
        "idle_share_pct": share(info["idle"]),
        "invoice_error_pct": error,
        "scale": info["scale"],
        "notes": list(info.get("notes") or []),
    }


def period_quality(conn: Connection, period: str) -> dict[str, Any]:
    return quality(require_period(conn, period))
