"""The cost model's unit of work: price usage, write a period's ledger, recompute its figures.

SQL prices and gathers (``queries.sql``, ``tenantcost_priced_usage``); ``arith`` decides what
happens to the lines. One call of ``attribute_period`` is one transaction: the period's
ledger, its row in ``tenant_cost_periods`` and its ``tenant_period_figures`` change together
or not at all, so no surface ever shows half a month.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from tenantcost.attribution.arith import (
    CENT,
    GB,
    OVERHEAD_LINES,
    USAGE_DRIVERS,
    LedgerLine,
    accrual_fraction,
    accrue,
    money,
    reconcile_lines,
    spread,
)
from tenantcost.config import Settings, get_settings
from tenantcost.db import NO_TENANT
from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.pricing.book import PriceBook, book_in_force
from tenantcost.pricing.store import stored_books
from tenantcost.telemetry.timeutil import (
    DAY,
    HOUR,
    Period,
    current_month,
    hour_of,
    hours_in_month,
    month_period,
)

FIXED_DRIVERS = ("vps", "shared_vps", "dedicated_ips", "shared_ips")
FIXED_FIDELITY = {
    "vps": "approximate",
    "dedicated_ips": "approximate",
    "shared_vps": "allocated",
    "shared_ips": "allocated",
}


def sql(name: str) -> str:
    return queries("tenantcost.attribution")[name]


@dataclass
class Attribution:
    """What one attribution of a period did (for the CLI and tests)."""

    period: Period
    covered_until: datetime
    status: str
    basis: str
    currency: str
    lines: list[LedgerLine]
    total: Decimal
    list_usage: Decimal
    tenant_usage: Decimal
    unattributed: Decimal
    background: Decimal
    idle: Decimal
    scale: Decimal = Decimal(1)
    host_total: Decimal | None = None
    invoice_total: Decimal | None = None
    notes: list[str] = field(default_factory=list)

    def summary_row(self) -> dict[str, Any]:
        return {
            "period": self.period.key,
            "status": self.status,
            "covered_until": self.covered_until,
            "basis": self.basis,
            "lines": len(self.lines),
            "total": self.total,
            "tenant_usage": self.tenant_usage,
            "unattributed": self.unattributed,
            "background": self.background,
            "idle": self.idle,
            "scale": self.scale,
        }


# ----------------------------------------------------------------------------- pricing


def pricing_params(conn: Connection, settings: Settings) -> dict[str, Any]:
    """What the pricing function needs: provider, memory model, and the books it may use —
    only stored books that still validate (``stored_books`` skips a bad one, say 1e30)."""
    books = [b.name for b in stored_books(conn, settings.usage_provider)]
    params = {
        "provider": settings.usage_provider,
        "memory_mb": settings.connection_memory_mb,
        "books": books,
    }
    row: Any = conn.execute(sql("pricing_digest"), params).fetchone()
    return {**params, "pricing": row["digest"]}


def price_hours(
    conn: Connection, start: datetime, end: datetime, settings: Settings | None = None
) -> None:
    """Re-price the hours in [start, end) into ``tenant_cost_hourly`` (replaces them:
    re-running changes nothing); hours past the retention window are dropped."""
    settings = settings or get_settings()
    params = {"start": hour_of(start), "end": end, **pricing_params(conn, settings)}
    conn.execute(sql("hourly_delete"), params)
    conn.execute(sql("hourly_insert"), params)
    before = hour_of(end) - timedelta(days=settings.hourly_cost_retention_days)
    conn.execute(sql("hourly_retention"), {"before": before})


def price_hour(conn: Connection, hour: datetime, settings: Settings | None = None) -> None:
    """Re-price one hour into ``tenant_cost_hourly``."""
    price_hours(conn, hour_of(hour), hour_of(hour) + HOUR, settings)


def price_days(
    conn: Connection,
    days: Iterable[date],
    settings: Settings | None = None,
    *,
    pricing: dict[str, Any] | None = None,
) -> list[str]:
    """Re-price whole UTC days into ``tenant_cost_daily``, one statement per day (memory stays
    bounded whatever the month's size); notes for hours left unpriced."""
    settings = settings or get_settings()
    pricing = pricing or pricing_params(conn, settings)  # the books are read and checked once
    notes = []
    for day in days:
        notes += price_day_range(conn, day, day, settings, pricing=pricing)
    return notes


def price_days_parallel(
    conn: Connection,
    more: Sequence[Connection],
    days: Sequence[date],
    settings: Settings,
    *,
    pricing: dict[str, Any],
) -> list[str]:
    """``price_days`` with the days dealt out between ``conn`` (in its transaction) and the
    ``more`` connections (one transaction each, committed when its days are priced: priced
    days are derived data, re-pricing them gives the same rows). The caller holds the
    period's lock, so no other attribution prices these days meanwhile. Where Citus
    distributes the priced days one connection prices them all: a multi-shard DELETE holds its
    shards' locks to commit, so a second connection's would wait for this transaction, which
    waits for it."""
    if more and evidence_distributed(conn):
        more = []
    conns = [conn, *more][: max(1, len(days))]
    if len(conns) == 1:
        return price_days(conn, days, settings, pricing=pricing)
    shares = [list(days[k :: len(conns)]) for k in range(len(conns))]

    def helper(c: Connection, share: list[date]) -> list[str]:
        with c.transaction():
            return price_days(c, share, settings, pricing=pricing)

    with ThreadPoolExecutor(max_workers=len(conns)) as pool:
        futures = [pool.submit(price_days, conn, shares[0], settings, pricing=pricing)]
        futures += [pool.submit(helper, c, s) for c, s in zip(conns[1:], shares[1:], strict=True)]
        notes = [note for f in futures for note in f.result()]
    return sorted(notes)


def days_to_price(
    conn: Connection, start: datetime, end: datetime, pricing: Mapping[str, Any]
) -> list[date]:
    """The UTC days of [start, end) whose priced cost may be out of date: their evidence
    changed since they were priced (or they never were), or they were priced with other
    inputs (provider, memory model, price books). Every other day would be priced to the very
    same ``tenant_cost_daily`` rows, so it is left alone."""
    last = (end - timedelta(microseconds=1)).date()
    rows = conn.execute(
        sql("days_to_price"), {"first": start.date(), "last": last, "pricing": pricing["pricing"]}
    ).fetchall()
    days = {
        r["day"]
        for r in rows
        if (r["why"] == "changed" and not r["rolled"]) or has_hourly(conn, r["day"])
    }
    return sorted(days)


def has_hourly(conn: Connection, day: date) -> bool:
    """Whether the UTC day holds hourly evidence (not rolled up, or written again)."""
    row: Any = conn.execute(sql("day_has_hourly"), {"day": day}).fetchone()
    return bool(row["found"])


def price_day_range(
    conn: Connection,
    first: date,
    last: date,
    settings: Settings | None = None,
    *,
    pricing: dict[str, Any] | None = None,
) -> list[str]:
    """Re-price the UTC days first..last in one statement (a bulk load of known size)."""
    settings = settings or get_settings()
    refuse_rolled_days(conn, first, last)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    params = {
        "first": first,
        "last": last,
        "start": start,
        "end": start + DAY * ((last - first).days + 1),
        **(pricing or pricing_params(conn, settings)),
    }
    conn.execute(sql("pricing_work_mem"), {"work_mem": f"{settings.pricing_work_mem_mb}MB"})
    # The marks go first: evidence committed while these days are priced marks them again.
    conn.execute(sql("changed_days_clear"), params)
    conn.execute(sql("daily_delete"), params)
    conn.execute(sql("daily_insert"), params)
    conn.execute(sql("days_priced"), params)
    row: Any = conn.execute(sql("unpriced_hours"), params).fetchone()
    if not row["hours"]:
        return []
    return [
        f"{first}..{last}: {row['hours']} hour(s) of usage not priced: no "
        f"{settings.usage_provider!r} price book in force then (import one: `tenantcost "
        "pricebook import railway-2025-11`, or set TENANTCOST_USAGE_PROVIDER)"
    ]


def refuse_rolled_days(conn: Connection, first: date, last: date) -> None:
    """UserError when a day of first..last had its hourly evidence rolled up to daily
    evidence (revision 0020): pricing needs the hours (the book in force, the best source
    and the storage per hour), so such a day keeps the cost it was priced to."""
    rows = [
        r
        for r in conn.execute(sql("rolled_in_range"), {"first": first, "last": last}).fetchall()
        if not has_hourly(conn, r["day"])
    ]
    if not rows:
        return
    days = f"{rows[0]['day']}" if len(rows) == 1 else f"{rows[0]['day']}..{rows[-1]['day']}"
    raise UserError(
        f"cannot re-price {days}: its hourly usage evidence was rolled up to daily evidence "
        f"({len(rows)} day(s), older than TENANTCOST_USAGE_HOURLY_DAYS); its priced cost stays "
        "as it was",
        "re-price only days within the hourly window; to re-price further back in future, "
        "raise TENANTCOST_USAGE_HOURLY_DAYS (evidence already rolled up cannot come back)",
    )


def rolled_days_note(
    conn: Connection, start: datetime, end: datetime, pricing: Mapping[str, Any]
) -> list[str]:
    """A note when days of [start, end) keep a cost priced with other inputs because their
    hourly evidence was rolled up (nothing left to re-price them from)."""
    last = (end - timedelta(microseconds=1)).date()
    kept = [
        r["day"]
        for r in conn.execute(
            sql("rolled_days_kept"),
            {"first": start.date(), "last": last, "pricing": pricing["pricing"]},
        ).fetchall()
        if not has_hourly(conn, r["day"])
    ]
    if not kept:
        return []
    return [
        f"{len(kept)} day(s) between {kept[0]} and {kept[-1]} keep the cost "
        "they were priced to with other pricing inputs: their hourly evidence was rolled up "
        "(TENANTCOST_USAGE_HOURLY_DAYS)"
    ]


# ----------------------------------------------------------------------------- gathering


def usage_lines(conn: Connection, period: Period, covered_until: datetime) -> list[LedgerLine]:
    last = (covered_until - timedelta(microseconds=1)).date()
    rows = conn.execute(
        sql("period_usage"), {"first_day": period.start.date(), "last_day": last}
    ).fetchall()
    return [
        LedgerLine(
            r["line"],
            r["tenant_id"],
            r["driver"],
            r["source"],
            r["kind"],
            r["quantity"],
            r["unit"],
            money(r["amount"]),
            r["unit_price"],
            r["price_book"],
        )
        for r in rows
    ]


def fixed_lines(
    conn: Connection, fraction: Decimal, as_of: datetime
) -> tuple[list[LedgerLine], str]:
    """VPS and dedicated IPs (own, allocated shared, charged to nobody) x the covered share."""
    out: list[LedgerLine] = []
    rule = "none"
    for r in conn.execute(sql("fixed_lines"), {"as_of": as_of}).fetchall():
        rule = r["rule"]
        for driver in FIXED_DRIVERS:
            monthly = r[driver]
            if not monthly:
                continue
            source = "approximate_cost" if driver in ("vps", "dedicated_ips") else f"rule:{rule}"
            out.append(
                LedgerLine(
                    r["line"],
                    r["tenant_id"] if r["line"] != "shared_unallocated" else None,
                    driver,
                    source,
                    FIXED_FIDELITY[driver] if r["line"] == "tenant" else "approximate",
                    fraction,
                    "month",
                    accrue(monthly, fraction),
                    monthly,
                )
            )
    return out, rule


def addon_lines(conn: Connection, fraction: Decimal) -> list[LedgerLine]:
    return [
        LedgerLine(
            "tenant",
            r["tenant_id"],
            "addons",
            "addons",
            "modelled",
            fraction,
            "month",
            accrue(r["monthly_cost"], fraction),
            r["monthly_cost"],
        )
        for r in conn.execute(sql("addon_costs")).fetchall()
    ]


def setting(conn: Connection, key: str, default: str) -> str:
    row = conn.execute(sql("setting"), {"key": key}).fetchone()
    return str(row["value"]) if row else default


def host_totals(
    host: Mapping[datetime, Mapping[str, Decimal]], books: Sequence[PriceBook], provider: str
) -> dict[str, Decimal]:
    """Measured host usage x the book in force each hour (pure): CPU seconds, memory
    GB-seconds and cluster storage (GB-months, hour by hour)."""
    totals = {"compute": Decimal(0), "memory": Decimal(0), "storage": Decimal(0)}
    for hour, metrics in host.items():
        rates = book_in_force(list(books), hour, provider).rates
        totals["compute"] += metrics.get("cpu_seconds", Decimal(0)) * rates.vcpu_per_second
        totals["memory"] += metrics.get("memory_gb_seconds", Decimal(0)) * rates.ram_gb_per_second
        gb_month = metrics.get("storage_bytes", Decimal(0)) / GB / Decimal(hours_in_month(hour))
        totals["storage"] += gb_month * rates.storage_gb_month
    return {k: money(v) for k, v in totals.items()}


def gather_host(
    conn: Connection, start: datetime, end: datetime
) -> dict[datetime, dict[str, Decimal]]:
    out: dict[datetime, dict[str, Decimal]] = defaultdict(dict)
    for r in conn.execute(sql("host_by_hour"), {"start": start, "end": end}):
        out[r["hour"]][r["metric"]] = r["quantity"]
    return dict(out)


# ----------------------------------------------------------------------------- the period


def reconciled_usage(
    usage: list[LedgerLine],
    *,
    invoice: Decimal | None,
    measured: Mapping[str, Decimal] | None,
) -> tuple[list[LedgerLine], str, Decimal | None, Decimal, list[str]]:
    """Usage lines against the period's host total (pure): (lines incl. idle, basis, host
    total, smallest scale, notes). Invoice: one bucket for all usage. Measured host: one bucket
    per driver (network has no host measurement: its total is what was attributed)."""
    if invoice is None and measured is None:
        return usage, "list_prices", None, Decimal(1), []
    if invoice is not None:
        buckets: dict[str, tuple[Decimal, tuple[str, ...]]] = {"usage": (invoice, USAGE_DRIVERS)}
        basis = "invoice"
    else:
        assert measured is not None
        buckets = {d: (measured[d], (d,)) for d in ("compute", "memory", "storage")}
        basis = "host_measured"
    out = [line for line in usage if line.driver not in _bucketed(buckets)]
    notes: list[str] = []
    host_total = sum((t for t, _ in buckets.values()), Decimal(0))
    scale = Decimal(1)
    for bucket, (total, drivers) in buckets.items():
        members = [line for line in usage if line.driver in drivers]
        lines, result = reconcile_lines(members, total, bucket)
        out.extend(lines)
        if result.exceeded:
            scale = min(scale, result.scale)
            notes.append(
                f"{bucket}: attributed usage {result.attributed:f} exceeds the host total "
                f"{result.total:f}; every line scaled by {result.scale:.6f}, idle 0"
            )
    if basis == "host_measured":
        host_total += sum((line.amount for line in usage if line.driver == "network"), Decimal(0))
    return out, basis, host_total, scale, notes


def _bucketed(buckets: Mapping[str, tuple[Decimal, tuple[str, ...]]]) -> set[str]:
    return {d for _, drivers in buckets.values() for d in drivers}


def overhead_lines(lines: list[LedgerLine], tenants: Sequence[UUID], rule: str) -> list[LedgerLine]:
    """With ``overhead_allocation`` even/usage, replace the overhead lines (control plane,
    idle, unattributed, background) by each tenant's share of their sum (pure)."""
    if rule == "none" or not tenants:
        return lines
    pool = sum((line.amount for line in lines if line.line in OVERHEAD_LINES), Decimal(0))
    if not pool:
        return lines
    usage: dict[UUID, Decimal] = dict.fromkeys(tenants, Decimal(0))
    for line in lines:
        if line.line == "tenant" and line.driver in USAGE_DRIVERS and line.tenant_id in usage:
            usage[line.tenant_id] += line.amount
    shares = spread(pool, usage, rule)
    kept = [line for line in lines if line.line not in OVERHEAD_LINES]
    return kept + [
        LedgerLine(
            "tenant",
            tenant,
            "platform_overhead",
            f"overhead:{rule}",
            "allocated",
            Decimal(1),
            "share",
            amount,
        )
        for tenant, amount in shares.items()
        if amount
    ]


def control_plane_line(monthly: Decimal, fraction: Decimal) -> list[LedgerLine]:
    if not monthly:
        return []
    return [
        LedgerLine(
            "control_plane",
            None,
            "platform_overhead",
            "cost_setting",
            "approximate",
            fraction,
            "month",
            accrue(monthly, fraction),
            monthly,
        )
    ]


def _sum(lines: Iterable[LedgerLine], *kinds: str) -> Decimal:
    return sum((line.amount for line in lines if line.line in kinds), Decimal(0))


def attribute_period(
    conn: Connection,
    period: Period,
    *,
    settings: Settings | None = None,
    invoice_total: Decimal | None = None,
    as_of: datetime | None = None,
    reprice: bool = True,
    reopen: str | None = None,
    more: Sequence[Connection] = (),
) -> Attribution:
    """Attribute ``period`` and recompute its figures, in one transaction.

    A month: its days whose evidence or pricing inputs changed since they were priced are
    re-priced (unless ``reprice`` is False: the hourly cycle has just priced today), its
    ledger and figures replaced. An hour (the collector's pass): the
    hour and its day are priced, then the hour's month is attributed. A closed month is
    refused unless ``reopen`` gives the reason (recorded in cost_audit). With ``more``
    connections the days to re-price are priced on all of them at once.
    """
    settings = settings or get_settings()
    now = (as_of or datetime.now(UTC)).astimezone(UTC)
    if period.kind == "hour":
        return _attribute_hour(conn, period, settings, now)
    if now <= period.start:
        raise UserError(
            f"period {period.key} has not started yet", "attribute the current or a past month"
        )
    covered_until = min(now, period.end)
    with conn.transaction():
        conn.execute(sql("period_lock"), {"period": period.key})
        previous = conn.execute(sql("period_get"), {"period": period.key}).fetchone()
        if previous is not None and previous["status"] == "closed":
            if reopen is None:
                raise UserError(
                    f"period {period.key} is closed ({previous['close_reason']})",
                    're-attributing a closed period needs `--reopen "why"` (recorded)',
                )
            conn.execute(sql("period_reopen_audit"), {"period": period.key, "reason": reopen})
        notes: list[str] = []
        if invoice_total is not None:
            if invoice_total < 0:
                raise UserError("--invoice-total cannot be negative", "give the invoice's total")
            conn.execute(
                sql("invoice_upsert"),
                {"period": period.key, "amount": money(invoice_total, CENT), "currency": "USD"},
            )
        if reprice:
            pricing = pricing_params(conn, settings)
            days = days_to_price(conn, period.start, covered_until, pricing)
            notes += price_days_parallel(conn, more, days, settings, pricing=pricing)
            notes += rolled_days_note(conn, period.start, covered_until, pricing)
        result = _attribute(conn, period, covered_until, settings, notes)
        _store(conn, result, now, settings)
    return result


def _attribute_hour(
    conn: Connection, hour: Period, settings: Settings, now: datetime
) -> Attribution:
    """The collector's pricing: the hour and its day, then the hour's month."""
    refuse_rolled_days(conn, hour.start.date(), hour.start.date())
    with conn.transaction():
        price_hour(conn, hour.start, settings)
        notes = price_days(conn, [hour.start.date()], settings)
    month = month_period(f"{hour.start:%Y-%m}")
    result = attribute_period(
        conn, month, settings=settings, as_of=max(now, hour.end), reprice=False
    )
    result.notes[:0] = notes
    return result


def _attribute(
    conn: Connection, period: Period, covered_until: datetime, settings: Settings, notes: list[str]
) -> Attribution:
    fraction = accrual_fraction(period.start, period.end, covered_until)
    books = stored_books(conn, settings.usage_provider)
    currency = books[0].currency if books else "USD"
    usage = usage_lines(conn, period, covered_until)
    list_usage = sum((line.amount for line in usage), Decimal(0))
    row = conn.execute(sql("invoice"), {"period": period.key}).fetchone()
    invoice = row["amount"] if row else None
    measured = None
    if invoice is None:
        host = gather_host(conn, period.start, covered_until)
        if any("cpu_seconds" in m for m in host.values()) and books:
            try:
                measured = host_totals(host, books, settings.usage_provider)
            except UserError:
                notes.append("host usage not priced: no price book in force for those hours")
            unmeasured = _usage_hours(conn, period, covered_until) - {
                h for h, m in host.items() if "cpu_seconds" in m
            }
            if measured is not None and unmeasured:
                notes.append(f"{len(unmeasured)} hours with usage have no host CPU measurement")
        elif usage:
            notes.append(
                "no invoice and no host measurement for this period: usage at list prices, "
                "no idle line (import the invoice with --invoice-total)"
            )
    lines, basis, host_total, scale, rec_notes = reconciled_usage(
        usage, invoice=invoice, measured=measured
    )
    notes += rec_notes
    fixed, rule = fixed_lines(conn, fraction, covered_until)
    lines += fixed
    lines += addon_lines(conn, fraction)
    lines += control_plane_line(Decimal(setting(conn, "control_plane_monthly_cost", "0")), fraction)
    overhead_rule = setting(conn, "overhead_allocation", "none")
    tenants = [r["tenant_id"] for r in conn.execute(sql("active_tenants")).fetchall()]
    lines = overhead_lines(lines, tenants, overhead_rule)
    status = "provisional"
    return Attribution(
        period=period,
        covered_until=covered_until,
        status=status,
        basis=basis,
        currency=currency,
        lines=lines,
        total=sum((line.amount for line in lines), Decimal(0)),
        list_usage=list_usage,
        tenant_usage=sum(
            (x.amount for x in lines if x.line == "tenant" and x.driver in USAGE_DRIVERS),
            Decimal(0),
        ),
        unattributed=_sum(lines, "unattributed"),
        background=_sum(lines, "background"),
        idle=_sum(lines, "idle"),
        scale=scale,
        host_total=host_total,
        invoice_total=invoice,
        notes=[*notes, f"allocation rule {rule}, overhead {overhead_rule}"],
    )


def _usage_hours(conn: Connection, period: Period, covered_until: datetime) -> set[datetime]:
    """The hours of the period so far with usage evidence, hourly or rolled up to days."""
    params = {"start": period.start, "end": covered_until}
    hourly = "usage_hours_distributed" if evidence_distributed(conn) else "usage_hours"
    return {r["hour"] for name in (hourly, "rolled_hours") for r in conn.execute(sql(name), params)}


def evidence_distributed(conn: Connection) -> bool:
    """Whether Citus distributes tenant_usage_hourly (`tenantcost db distribute`)."""
    for name in ("citus_loaded", "distributed_evidence"):
        row: Any = conn.execute(sql(name)).fetchone()
        if not row["found"]:
            return False
    return True


def _store(conn: Connection, result: Attribution, now: datetime, settings: Settings) -> None:
    period = result.period
    closing = result.invoice_total is not None and result.covered_until >= period.end
    due = now >= period.end + timedelta(hours=settings.period_close_hours)
    if closing or due:
        result.status = "closed"
    reason = (
        "invoice imported"
        if closing
        else f"{settings.period_close_hours} hours after its end"
        if due
        else None
    )
    conn.execute(
        sql("period_upsert"),
        {
            "period": period.key,
            "period_start": period.start,
            "period_end": period.end,
            "covered_until": result.covered_until,
            "status": result.status,
            "basis": result.basis,
            "allocation_rule": setting(conn, "shared_cost_allocation", "none"),
            "overhead_rule": setting(conn, "overhead_allocation", "none"),
            "currency": result.currency,
            "host_total": result.host_total,
            "invoice_total": result.invoice_total,
            "list_usage": result.list_usage,
            "tenant_usage": result.tenant_usage,
            "unattributed": result.unattributed,
            "background": result.background,
            "idle": result.idle,
            "scale": result.scale,
            "total": result.total,
            "notes": result.notes,
            "closed_at": now if result.status == "closed" else None,
            "closed_by": "tenantcost" if result.status == "closed" else None,
            "close_reason": reason,
        },
    )
    conn.execute(sql("ledger_delete"), {"period": period.key})
    with conn.cursor().copy(sql("ledger_copy")) as copy:
        for line in result.lines:
            copy.write_row(
                (
                    period.key,
                    line.line,
                    NO_TENANT if line.tenant_id is None else line.tenant_id,
                    line.driver,
                    line.source,
                    line.fidelity,
                    line.price_book,
                    line.quantity,
                    line.unit,
                    line.unit_price,
                    line.amount,
                )
            )
    fraction = accrual_fraction(period.start, period.end, result.covered_until)
    conn.execute(sql("figures_delete"), {"period": period.key})
    conn.execute(
        sql("figures_insert"),
        {
            "period": period.key,
            "period_start": period.start,
            "period_end": period.end,
            "covered_until": result.covered_until,
            "fraction": fraction,
        },
    )
    conn.execute(sql("refresh_state_upsert"))


def refresh_current(
    conn: Connection, *, settings: Settings | None = None, as_of: datetime | None = None
) -> Attribution:
    """Recompute the current month from what is priced (cost syncs, settings, `report refresh`);
    periods past their closing time are closed on the way."""
    now = (as_of or datetime.now(UTC)).astimezone(UTC)
    close_due_periods(conn, settings=settings, as_of=now)
    return attribute_period(conn, current_month(now), settings=settings, as_of=now, reprice=False)


def close_due_periods(
    conn: Connection, *, settings: Settings | None = None, as_of: datetime | None = None
) -> list[str]:
    """Close every provisional month whose end lies TENANTCOST_PERIOD_CLOSE_HOURS behind."""
    settings = settings or get_settings()
    now = (as_of or datetime.now(UTC)).astimezone(UTC)
    rows = conn.execute(
        sql("due_for_closing"), {"hours": settings.period_close_hours, "now": now}
    ).fetchall()
    closed = []
    for r in rows:
        attribute_period(conn, month_period(r["period"]), settings=settings, as_of=now)
        closed.append(str(r["period"]))
    return closed


__all__ = [
    "HOUR",
    "Attribution",
    "attribute_period",
    "close_due_periods",
    "price_day_range",
    "price_days",
    "price_hour",
    "price_hours",
    "refresh_current",
]
