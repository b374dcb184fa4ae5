"""``tenantcost attribute`` and the reports ``tenant-costs`` / ``cost-drivers`` /
``attribution-quality``."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from decimal import Decimal
from typing import Any

import typer
from rich.console import Console

from tenantcost.attribution.ledger import attribute_period
from tenantcost.cli_options import FORMAT, MONTH
from tenantcost.config import get_settings
from tenantcost.db.connect import connect
from tenantcost.errors import UserError
from tenantcost.numbers import parse_decimal
from tenantcost.output import OutputFormat, emit
from tenantcost.report.costs import driver_rows, period_quality, tenant_cost_rows
from tenantcost.report.reports import MONEY_MACHINE, MONEY_PEOPLE, PCT, quantize
from tenantcost.report.rollup import resolve_month
from tenantcost.telemetry.timeutil import Period, current_month, month_period, parse_hour

err = Console(stderr=True)

INVOICE_MAX = Decimal("999999999999.99")  # host_invoices.amount is numeric(14,2)


def _decimal(text: str | None, option: str) -> Decimal | None:
    if text is None:
        return None
    return parse_decimal(text, what=option, maximum=INVOICE_MAX, places=2, example="123.45")


def attribute_command(
    month: str | None = typer.Option(
        None, "--month", help="UTC month YYYY-MM (default: the current month)."
    ),
    hour: str | None = typer.Option(
        None,
        "--hour",
        help="Price one UTC hour YYYY-MM-DDTHH (the collector's pricing), then its month.",
    ),
    invoice_total: str | None = typer.Option(
        None,
        "--invoice-total",
        help="The hosting invoice's total for the month (stored): usage is reconciled to it "
        "and the month is closed once it has ended.",
    ),
    reopen: str | None = typer.Option(
        None, "--reopen", help="Re-attribute a closed month; the reason is recorded."
    ),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Price a month's usage and write its ledger and figures: every tenant's VPS, IPs, shared
    shares, usage, add-ons and overhead, plus the lines no tenant carries. Only days whose
    usage evidence or pricing inputs changed since they were priced are re-priced. Re-running
    replaces the month; a closed month needs --reopen."""
    if month and hour:
        raise UserError("give --month or --hour, not both", "e.g. --month 2025-11")
    period: Period = parse_hour(hour) if hour else month_period(month) if month else current_month()
    total = _decimal(invoice_total, "--invoice-total")
    helpers = get_settings().pricing_connections - 1 if period.kind == "month" else 0
    with connect() as conn, ExitStack() as stack:
        more = [stack.enter_context(connect()) for _ in range(helpers)]
        result = attribute_period(conn, period, invoice_total=total, reopen=reopen, more=more)
    row = result.summary_row()
    places = MONEY_PEOPLE if fmt is OutputFormat.table else MONEY_MACHINE
    money = ("total", "tenant_usage", "unattributed", "background", "idle")
    emit(
        [{k: quantize(v, places) if k in money else v for k, v in row.items()}],
        fmt,
        title=f"Cost ledger {result.period.key}",
    )
    if fmt is OutputFormat.table:
        for note in result.notes:
            err.print(f"• {note}", highlight=False, markup=False, soft_wrap=True)


def tenant_costs_command(
    month: str | None = MONTH,
    top: int = typer.Option(0, "--top", min=0, help="Only the N costliest tenants (0: all)."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Per-tenant cost by driver (compute, memory, storage, network, VPS and IPs, add-ons,
    overhead), its share of the month's total, revenue, profit and margin; then the lines no
    tenant carries (unattributed, background, idle, control plane, unallocated shared cost)."""
    with connect() as conn:
        period = resolve_month(conn, month)
        rows = tenant_cost_rows(conn, period, top)
        info = period_quality(conn, period)
    people = fmt is OutputFormat.table
    money = MONEY_PEOPLE if people else MONEY_MACHINE
    shown = [_rounded(row, money, drop=("tenant_id",) if people else ()) for row in rows]
    emit(shown, fmt, title=f"Tenant costs {period} (internal approximation, not billing)")
    if people:
        _quality_note(info)


def cost_drivers_command(month: str | None = MONTH, fmt: OutputFormat = FORMAT) -> None:
    """Cost drivers of a month as in seed 002's dashboard: each driver's amount and share of
    the month's total, tenants' drivers first, then what no tenant carries."""
    with connect() as conn:
        period = resolve_month(conn, month)
        rows = driver_rows(conn, period)
        info = period_quality(conn, period)
    people = fmt is OutputFormat.table
    money = MONEY_PEOPLE if people else MONEY_MACHINE
    shown = [_rounded(row, money, drop=("line", "key") if people else ()) for row in rows]
    emit(shown, fmt, title=f"Cost drivers {period}")
    if people:
        _quality_note(info)


def quality_command(month: str | None = MONTH, fmt: OutputFormat = FORMAT) -> None:
    """Attribution quality of a month: its basis (list prices, measured host, invoice), the
    share of usage carried by tenants, unattributed, background and idle, and the list-price
    usage's error against the imported invoice."""
    with connect() as conn:
        period = resolve_month(conn, month)
        info = period_quality(conn, period)
    people = fmt is OutputFormat.table
    money = MONEY_PEOPLE if people else MONEY_MACHINE
    row = _rounded(info, money, drop=("notes",))
    emit([row], fmt, title=f"Attribution quality {period}")
    if people:
        for note in info["notes"]:
            err.print(f"• {note}", highlight=False, markup=False, soft_wrap=True)


def _rounded(row: Mapping[str, Any], money: int, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """(pure) A report row at its scale: percentages to PCT places, other figures to ``money``."""
    return {
        k: quantize(v, PCT if k.endswith("_pct") else money)
        for k, v in row.items()
        if k not in drop
    }


def _quality_note(info: dict[str, object]) -> None:
    status = info["status"]
    covered = info["covered_until"]
    text = f"• {info['period']} is {status}"
    if status == "provisional":
        text += f" (accrued to {covered:%Y-%m-%d %H:%M} UTC)"
    text += f"; usage basis: {info['basis']}"
    tenant_share = info["tenant_share_pct"]
    if tenant_share is not None:
        text += f"; tenants carry {tenant_share:.1f}% of usage"
    err.print(text, highlight=False, markup=False, soft_wrap=True)
