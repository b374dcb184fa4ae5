"""``tenantcost attribute`` and the reports ``tenant-costs`` / ``cost-drivers``."""

from __future__ import annotations

from decimal import Decimal

import typer
from rich.console import Console

from tenantcost.attribution.ledger import attribute_period
from tenantcost.attribution.report import cost_driver_rows, for_display, load, tenant_cost_rows
from tenantcost.db.connect import connect
from tenantcost.errors import UserError
from tenantcost.numbers import parse_decimal
from tenantcost.output import OutputFormat, emit
from tenantcost.telemetry.timeutil import Period, current_month, month_period, parse_hour

err = Console(stderr=True)

MONTH = typer.Option(None, "--month", help="UTC month YYYY-MM (default: the current month).")
HOUR = typer.Option(
    None, "--hour", help="One UTC hour YYYY-MM-DDTHH instead of a month (the collector's pricing)."
)
FORMAT = typer.Option(OutputFormat.table, "--format", help="table, json or csv.")
INVOICE_MAX = Decimal("999999999999.99")  # host_invoices.amount is numeric(14,2)


def _period(month: str | None, hour: str | None) -> Period:
    if month and hour:
        raise UserError("give --month or --hour, not both", "e.g. --month 2025-11")
    if hour:
        return parse_hour(hour)
    return month_period(month) if month else current_month()


def _decimal(text: str | None, option: str) -> Decimal | None:
    if text is None:
        return None
    return parse_decimal(text, what=option, maximum=INVOICE_MAX, places=2, example="123.45")


def attribute_command(
    month: str | None = MONTH,
    hour: str | None = HOUR,
    invoice_total: str | None = typer.Option(
        None,
        "--invoice-total",
        help="The hosting invoice's total for the month (stored); reconciled mode splits it. "
        "Without it, measured host usage x price is split when available.",
    ),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Price a period's usage into the cost ledger: bottom-up (usage x unit price) and
    reconciled (a host total split by usage, idle explicit). Re-running replaces the period."""
    period = _period(month, hour)
    with connect() as conn:
        result = attribute_period(
            conn, period, invoice_total=_decimal(invoice_total, "--invoice-total")
        )
    rows = [
        {
            "mode": m.mode,
            "basis": m.basis,
            "lines": len(m.lines),
            "host_total": m.host_total,
            "attributed": m.attributed,
            "idle": m.idle,
            "total": m.total,
            "scale": m.scale,
        }
        for m in result.modes
    ]
    emit(
        for_display(rows) if fmt is OutputFormat.table else rows,
        fmt,
        title=f"Cost ledger {period.key}",
    )
    if fmt is OutputFormat.table:
        for note in [*result.notes, *(n for m in result.modes for n in m.notes)]:
            err.print(f"• {note}", highlight=False)


def tenant_costs_command(
    month: str | None = MONTH,
    hour: str | None = HOUR,
    top: int = typer.Option(0, "--top", min=0, help="Only the N costliest tenants (0: all)."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Per-tenant cost by driver (compute, memory, storage, network, overhead = VPS + IPs),
    bottom-up and reconciled, with shares, idle and the total. Table amounts are shown to
    6 decimals; JSON/CSV carry the ledger's 12."""
    period = _period(month, hour)
    with connect() as conn:
        lines, totals = load(conn, period)
    rows = tenant_cost_rows(lines, totals, top)
    columns = [
        "company",
        "compute",
        "memory",
        "storage",
        "network",
        "overhead",
        "bottom_up_total",
        "bottom_up_share_pct",
        "reconciled",
        "reconciled_share_pct",
    ]
    if fmt is not OutputFormat.table:
        columns.insert(0, "tenant_id")
    emit(
        for_display(rows) if fmt is OutputFormat.table else rows,
        fmt,
        columns=columns,
        title=f"Tenant costs {period.key} (internal approximation, not billing)",
    )
    if fmt is OutputFormat.table:
        _notes(totals)


def cost_drivers_command(
    month: str | None = MONTH, hour: str | None = HOUR, fmt: OutputFormat = FORMAT
) -> None:
    """Cost drivers as in seed 002's dashboard: compute, memory, storage, network, overhead
    (VPS + dedicated IPs) and, reconciled, idle — each with its share of the total."""
    period = _period(month, hour)
    with connect() as conn:
        lines, totals = load(conn, period)
    rows = cost_driver_rows(lines, totals)
    emit(
        for_display(rows) if fmt is OutputFormat.table else rows,
        fmt,
        title=f"Cost drivers {period.key}",
    )
    if fmt is OutputFormat.table:
        _notes(totals)


def _notes(totals: list[dict[str, object]]) -> None:
    for t in totals:
        host = f", host total {t['host_total']:f}" if t["host_total"] is not None else ""
        err.print(
            f"• {t['mode']} ({t['basis']}): total {t['total']:f}{host}, idle {t['idle']:f}",
            highlight=False,
        )
        for note in t["notes"] or []:  # type: ignore[attr-defined]
            err.print(f"  {note}", highlight=False)
