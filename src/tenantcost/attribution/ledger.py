"""Price a period's usage into ``tenant_cost_ledger``: SQL gathers, ``arith`` computes.

Re-running a period replaces that period's rows (both modes and the totals) in one
transaction, so the ledger never shows half a month.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from tenantcost.attribution.arith import (
    AMOUNT_QUANTUM,
    CENT,
    GB,
    USAGE_DRIVERS,
    HourUsage,
    LedgerLine,
    UnitPrices,
    bottom_up,
    fixed_lines,
    money,
    reconcile,
)
from tenantcost.config import Settings, get_settings
from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.pricing.book import PriceBook, book_in_force
from tenantcost.pricing.store import stored_books
from tenantcost.telemetry.timeutil import Period, hours_in_month

FIXED_SOURCE = "business_cost_allocation"


def sql(name: str) -> str:
    return queries("tenantcost.attribution")[name]


def unit_prices(book: PriceBook) -> UnitPrices:
    r = book.rates
    return UnitPrices(
        book.name, r.vcpu_per_second, r.ram_gb_per_second, r.storage_gb_month, r.egress_gb
    )


def prices_by_hour(
    books: Sequence[PriceBook], hours: Sequence[datetime], provider: str
) -> dict[datetime, UnitPrices]:
    """The book in force at each hour's start (pure)."""
    if not books:
        raise UserError(
            f"no price book for provider {provider!r} is stored",
            "import one: `tenantcost pricebook import railway-2025-11` "
            "(or set TENANTCOST_USAGE_PROVIDER)",
        )
    cache: dict[str, UnitPrices] = {}
    out = {}
    for hour in hours:
        book = book_in_force(list(books), hour, provider)
        out[hour] = cache.setdefault(book.name, unit_prices(book))
    return out


@dataclass
class ModeResult:
    mode: str
    basis: str
    lines: list[LedgerLine]
    total: Decimal
    attributed: Decimal
    idle: Decimal
    scale: Decimal = Decimal(1)
    host_total: Decimal | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Attribution:
    period: Period
    currency: str
    modes: list[ModeResult]
    notes: list[str] = field(default_factory=list)

    def mode(self, name: str) -> ModeResult | None:
        return next((m for m in self.modes if m.mode == name), None)


def host_totals(
    host: Mapping[datetime, Mapping[str, Decimal]], prices: Mapping[datetime, UnitPrices]
) -> dict[str, Decimal]:
    """Measured host usage x price per driver (pure): CPU seconds, memory GB-seconds and
    cluster storage (GB-months, hour by hour)."""
    totals = {"compute": Decimal(0), "memory": Decimal(0), "storage": Decimal(0)}
    for hour, metrics in host.items():
        p = prices[hour]
        totals["compute"] += metrics.get("cpu_seconds", Decimal(0)) * p.vcpu_per_second
        totals["memory"] += metrics.get("memory_gb_seconds", Decimal(0)) * p.ram_gb_per_second
        storage_gb_month = (
            metrics.get("storage_bytes", Decimal(0)) / GB / Decimal(hours_in_month(hour))
        )
        totals["storage"] += storage_gb_month * p.storage_gb_month
    return totals


def reconciled_mode(
    usage_lines: Sequence[LedgerLine],
    fixed: Sequence[LedgerLine],
    *,
    invoice: Decimal | None,
    measured: Mapping[str, Decimal] | None,
) -> ModeResult | None:
    """Split the host total among tenants with explicit idle lines (pure). With an invoice:
    one bucket for all usage drivers, in cents. With measured host usage: one bucket per
    driver (network has no host measurement: its total is what was attributed)."""
    if invoice is None and measured is None:
        return None
    if invoice is not None:
        buckets = {"invoice": (invoice, list(USAGE_DRIVERS))}
        quantum, basis = CENT, "invoice"
    else:
        assert measured is not None
        attributed_network = sum(
            (line.amount for line in usage_lines if line.driver == "network"), Decimal(0)
        )
        buckets = {
            "compute": (measured["compute"], ["compute"]),
            "memory": (measured["memory"], ["memory"]),
            "storage": (measured["storage"], ["storage"]),
            "network": (attributed_network, ["network"]),
        }
        quantum, basis = AMOUNT_QUANTUM, "host_measured"
    lines: list[LedgerLine] = []
    notes: list[str] = []
    host_total = attributed = idle = Decimal(0)
    scale = Decimal(1)
    for bucket, (total, drivers) in buckets.items():
        members = {i: line for i, line in enumerate(usage_lines) if line.driver in drivers}
        result = reconcile(total, {i: line.amount for i, line in members.items()}, quantum)
        for i, line in members.items():
            lines.append(
                LedgerLine(
                    line.tenant_id,
                    line.driver,
                    line.quantity,
                    line.unit,
                    line.unit_price,
                    result.amounts[i],
                    line.price_book,
                )
            )
        if result.idle:
            lines.append(
                LedgerLine(
                    None, bucket, Decimal(1), "remainder", result.idle, result.idle, basis, "idle"
                )
            )
        if result.exceeded:
            notes.append(
                f"{bucket}: attributed usage {money(result.attributed)} exceeds the host total "
                f"{result.total}; tenants scaled down by {result.scale:.6f}, idle 0"
            )
            scale = min(scale, result.scale)
        host_total += result.total
        attributed += sum(result.amounts.values(), Decimal(0))
        idle += result.idle
    fixed_total = sum((line.amount for line in fixed), Decimal(0))
    if fixed:
        notes.append(
            "VPS and dedicated-IP costs pass through unchanged (not part of the host bill)"
        )
    return ModeResult(
        mode="reconciled",
        basis=basis,
        lines=[*lines, *fixed],
        total=host_total + fixed_total,
        attributed=attributed + fixed_total,
        idle=idle,
        scale=scale,
        host_total=host_total,
        notes=notes,
    )


def gather_usage(conn: Connection, period: Period) -> list[HourUsage]:
    rows = conn.execute(
        sql("usage_by_tenant_hour"), {"start": period.start, "end": period.end}
    ).fetchall()
    return [
        HourUsage(
            r["tenant_id"],
            r["hour"],
            r["compute_seconds"],
            r["connection_seconds"],
            r["storage_bytes"],
            r["egress_bytes"],
        )
        for r in rows
    ]


def gather_host(conn: Connection, period: Period) -> dict[datetime, dict[str, Decimal]]:
    out: dict[datetime, dict[str, Decimal]] = defaultdict(dict)
    for r in conn.execute(sql("host_by_hour"), {"start": period.start, "end": period.end}):
        out[r["hour"]][r["metric"]] = r["quantity"]
    return dict(out)


def gather_fixed(conn: Connection) -> dict[UUID, tuple[Decimal, Decimal]] | None:
    row: Any = conn.execute(sql("has_cost_allocation")).fetchone()
    if not row["present"]:
        return None
    return {
        r["tenant_id"]: (r["vps"], r["ips"])
        for r in conn.execute(sql("cost_allocation")).fetchall()
    }


def sources_note(conn: Connection, period: Period) -> list[str]:
    rows = conn.execute(sql("sources_used"), {"start": period.start, "end": period.end})
    return [
        f"{r['metric']} from {r['source']} ({r['kind']}, {r['tenant_hours']} tenant-hours)"
        for r in rows
    ]


def attribute_period(
    conn: Connection,
    period: Period,
    *,
    settings: Settings | None = None,
    invoice_total: Decimal | None = None,
    include_fixed: bool | None = None,
) -> Attribution:
    """Compute and store the ledger for ``period`` (both modes); one transaction."""
    settings = settings or get_settings()
    include_fixed = period.kind == "month" if include_fixed is None else include_fixed
    provider = settings.usage_provider
    with conn.transaction():
        if invoice_total is not None:
            if period.kind != "month":
                raise UserError("an invoice total is for a month", "use --month YYYY-MM")
            if invoice_total < 0:
                raise UserError("--invoice-total cannot be negative", "give the invoice's total")
            conn.execute(
                sql("invoice_upsert"),
                {"period": period.key, "amount": money(invoice_total, CENT), "currency": "USD"},
            )
        books = stored_books(conn, provider)
        usage = gather_usage(conn, period)
        host = gather_host(conn, period)
        hours = sorted({u.hour for u in usage} | set(host))
        prices = prices_by_hour(books, hours, provider) if hours else {}
        currency = books[0].currency if books else "USD"
        usage_lines = bottom_up(
            usage,
            prices,
            memory_mb_per_connection=settings.connection_memory_mb,
            hours_in_month={h: hours_in_month(h) for h in hours},
        )
        fixed: list[LedgerLine] = []
        notes = sources_note(conn, period)
        notes.append(
            f"memory modelled at {settings.connection_memory_mb} MB per connection "
            "(TENANTCOST_CONNECTION_MEMORY_MB)"
        )
        if include_fixed:
            monthly = gather_fixed(conn)
            if monthly is None:
                notes.append("business_cost_allocation view not found: no VPS/IP costs")
            else:
                fixed = fixed_lines(monthly, period.month_fraction(), FIXED_SOURCE)
        bottom_total = sum((line.amount for line in [*usage_lines, *fixed]), Decimal(0))
        modes = [
            ModeResult(
                "bottom_up",
                "list_prices",
                [*usage_lines, *fixed],
                bottom_total,
                bottom_total,
                Decimal(0),
            )
        ]
        invoice = invoice_total
        if invoice is None and period.kind == "month":
            row = conn.execute(sql("invoice"), {"period": period.key}).fetchone()
            invoice = row["amount"] if row else None
        measured = host_totals(host, prices) if host and invoice is None else None
        if measured is not None and not any("cpu_seconds" in metrics for metrics in host.values()):
            measured = None
            notes.append("host CPU was not measured in this period (remote server?)")
        rec = reconciled_mode(usage_lines, fixed, invoice=invoice, measured=measured)
        if rec is None:
            notes.append(
                "no reconciled figures: no invoice total (--invoice-total) and no host "
                "measurement for this period"
            )
        else:
            if measured is not None:
                unmeasured = {u.hour for u in usage} - {
                    h for h, m in host.items() if "cpu_seconds" in m
                }
                if unmeasured:
                    rec.notes.append(
                        f"{len(unmeasured)} hours with tenant usage have no host CPU measurement"
                    )
            modes.append(rec)
        _store(conn, period, modes, currency)
    return Attribution(period, currency, modes, notes)


def _store(conn: Connection, period: Period, modes: Sequence[ModeResult], currency: str) -> None:
    conn.execute(sql("ledger_delete"), {"period": period.key})
    conn.execute(sql("totals_delete"), {"period": period.key})
    with conn.cursor().copy(sql("ledger_copy")) as copy:
        for mode in modes:
            for line in mode.lines:
                copy.write_row(
                    (
                        period.key,
                        period.start,
                        period.end,
                        mode.mode,
                        line.line,
                        line.tenant_id,
                        line.driver,
                        line.quantity,
                        line.unit,
                        line.unit_price,
                        line.amount,
                        line.price_book,
                        currency,
                        mode.basis,
                    )
                )
    for mode in modes:
        conn.execute(
            sql("totals_insert"),
            {
                "period": period.key,
                "mode": mode.mode,
                "basis": mode.basis,
                "host_total": mode.host_total,
                "total": mode.total,
                "attributed": mode.attributed,
                "idle": mode.idle,
                "scale": mode.scale,
                "currency": currency,
                "notes": mode.notes,
            },
        )
