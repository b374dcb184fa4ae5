"""Rows for ``report tenant-costs`` and ``report cost-drivers`` from the stored ledger."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from tenantcost.attribution.arith import DRIVER_GROUP, shares
from tenantcost.attribution.ledger import sql
from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.telemetry.timeutil import Period

GROUPS = ("compute", "memory", "storage", "network", "overhead")
IDLE = "(idle / unattributed)"
TOTAL = "(total)"


def load(conn: Connection, period: Period) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    lines = [dict(r) for r in conn.execute(sql("ledger_for_period"), {"period": period.key})]
    totals = [dict(r) for r in conn.execute(sql("totals_for_period"), {"period": period.key})]
    if not totals:
        flag = "--month" if period.kind == "month" else "--hour"
        raise UserError(
            f"no cost ledger for {period.key}",
            f"run `tenantcost attribute {flag} {period.key}` first (after `tenantcost collect`)",
        )
    return lines, totals


def tenant_cost_rows(
    lines: Sequence[Mapping[str, Any]], totals: Sequence[Mapping[str, Any]], top: int = 0
) -> list[dict[str, Any]]:
    """One row per tenant: bottom-up cost by driver group, its total, the reconciled
    amount and its share of the reconciled total; then idle and total rows (pure)."""
    by_tenant: dict[UUID, dict[str, Any]] = {}
    reconciled_idle = Decimal(0)
    for line in lines:
        if line["line"] == "idle":
            reconciled_idle += line["amount"]
            continue
        tid = line["tenant_id"]
        row = by_tenant.setdefault(
            tid,
            {
                "tenant_id": tid,
                "company": line["company_name"] or str(tid),
                **{g: Decimal(0) for g in GROUPS},
                "bottom_up_total": Decimal(0),
                "reconciled": None,
            },
        )
        if line["mode"] == "bottom_up":
            row[DRIVER_GROUP[line["driver"]]] += line["amount"]
            row["bottom_up_total"] += line["amount"]
        else:
            row["reconciled"] = (row["reconciled"] or Decimal(0)) + line["amount"]
    reconciled = next((t for t in totals if t["mode"] == "reconciled"), None)
    bottom = next(t for t in totals if t["mode"] == "bottom_up")
    rows = sorted(by_tenant.values(), key=lambda r: (-r["bottom_up_total"], r["company"]))
    if top:
        rows = rows[:top]
    recon_total = reconciled["total"] if reconciled else None
    bottom_shares = shares({r["tenant_id"]: r["bottom_up_total"] for r in by_tenant.values()})
    for row in rows:
        row["bottom_up_share_pct"] = _pct(bottom_shares[row["tenant_id"]])
        row["reconciled_share_pct"] = (
            _pct(row["reconciled"] * 100 / recon_total)
            if recon_total and row["reconciled"] is not None
            else None
        )
    if reconciled is not None:
        rows.append(
            {
                "tenant_id": None,
                "company": IDLE,
                "reconciled": reconciled_idle,
                "reconciled_share_pct": _pct(reconciled_idle * 100 / recon_total)
                if recon_total
                else None,
            }
        )
    total_row: dict[str, Any] = {"tenant_id": None, "company": TOTAL}
    for g in GROUPS:
        total_row[g] = sum((r[g] for r in by_tenant.values()), Decimal(0))
    total_row["bottom_up_total"] = bottom["total"]
    total_row["reconciled"] = recon_total
    rows.append(total_row)
    return rows


def cost_driver_rows(
    lines: Sequence[Mapping[str, Any]], totals: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Cost by driver group with its share of the total, both modes; idle last (pure)."""
    amounts: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line in lines:
        group = "idle" if line["line"] == "idle" else DRIVER_GROUP[line["driver"]]
        amounts[line["mode"]][group] += line["amount"]
    has_reconciled = any(t["mode"] == "reconciled" for t in totals)
    names = [*GROUPS, "idle"]
    bottom = {g: amounts["bottom_up"].get(g, Decimal(0)) for g in names}
    recon = {g: amounts["reconciled"].get(g, Decimal(0)) for g in names}
    bottom_share, recon_share = shares(bottom), shares(recon)
    rows = []
    for g in names:
        if g == "idle" and not has_reconciled:
            continue
        rows.append(
            {
                "driver": g,
                "bottom_up": bottom[g] if g != "idle" else None,
                "bottom_up_share_pct": _pct(bottom_share[g]) if g != "idle" else None,
                "reconciled": recon[g] if has_reconciled else None,
                "reconciled_share_pct": _pct(recon_share[g]) if has_reconciled else None,
            }
        )
    rows.append(
        {
            "driver": "total",
            "bottom_up": sum(bottom.values(), Decimal(0)),
            "bottom_up_share_pct": Decimal("100.0") if any(bottom.values()) else None,
            "reconciled": sum(recon.values(), Decimal(0)) if has_reconciled else None,
            "reconciled_share_pct": Decimal("100.0") if has_reconciled else None,
        }
    )
    return rows


def _pct(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"))


def for_display(rows: Sequence[Mapping[str, Any]], places: int = 6) -> list[dict[str, Any]]:
    """Money to ``places`` decimals for people (usage costs are often fractions of a cent);
    JSON and CSV keep the ledger's full precision."""
    quantum = Decimal(1).scaleb(-places)
    out = []
    for row in rows:
        shown = {}
        for key, value in row.items():
            if isinstance(value, Decimal) and not key.endswith("_pct"):
                value = value.quantize(quantum)
            shown[key] = value
        out.append(shown)
    return out
