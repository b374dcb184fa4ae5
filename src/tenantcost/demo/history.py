"""Two months of demo usage history, so `make run` shows a fleet that has been operating.

Per tier, usage follows seed 002's profiles (section 2: queries a day, seconds and vCPU per
query, RAM per query, storage, egress a month), shaped by a daily rhythm (business hours busy,
nights quiet), a weekly one (weekends at half), steady growth across the window, per-tenant
scale and noise — all deterministic for a seed. A few heavy tenants run far above their tier's
ceilings, one tenant has a cost spike two hours ago (the anomaly alert), and the fleet's FREE
sign-ups sharing a mail domain make the abuse group.

The rows are usage *evidence* in ``tenant_usage_hourly`` under the source ``demo`` (kind
``modelled``, ranked below every real source, so real telemetry on top wins its hours); from
there they take exactly the path real telemetry takes: the same pricing into hourly and daily
cost, the same monthly attribution and figures, the same tier evaluation. Nothing writes a cost
directly. ``tenantcost collect`` never produces source ``demo``: it is demo data, and says so.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from tenantcost.attribution.ledger import (
    attribute_period,
    price_day_range,
    price_hours,
    pricing_params,
)
from tenantcost.config import Settings, get_settings
from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.telemetry.timeutil import add_months, hour_of, month_period, month_start

T = TypeVar("T")
DEMO_SOURCE = "demo"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class HistoryResult:
    days: int
    evidence_rows: int
    months: list[str]


def sql(name: str) -> str:
    return queries("tenantcost.demo")[name]


def load_history(
    conn: Connection,
    *,
    days: int = 60,
    seed: int = 7,
    now: datetime | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    more: Sequence[Connection] = (),
) -> HistoryResult:
    """Write ``days`` of demo evidence up to the current hour and price it like real usage:
    every day, the recent hours, and each month it touches (past months close on their own
    schedule). Replaces earlier demo evidence; real telemetry is left alone.

    With ``more`` connections the window is cut into whole-day slices written and priced at
    once, one per connection (a bulk load is CPU-bound in the server: two cores, two
    connections); the slices commit together or not at all."""
    settings = settings or get_settings()
    end = hour_of(now or datetime.now(UTC))
    start = end - timedelta(days=days)
    conns = [conn, *more]
    slices = day_slices(start, end, len(conns))
    window = {"start": start, "end": end, "seed": seed, "spike": end - timedelta(hours=2)}
    with conn.transaction():  # partitions first (DDL would serialise the writers)
        month = month_start(start)
        while month < end:
            conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (month,))
            month = add_months(month, 1)
        pricing = pricing_params(conn, settings)
    progress(f"{days} days of usage evidence")

    def write(c: Connection, first: datetime, last: datetime) -> int:
        bounds = {"from": first, "to": last, "source": DEMO_SOURCE}
        c.execute(sql("history_delete"), bounds)
        params = {**window, **bounds, "memory_mb": settings.connection_memory_mb}
        return int(c.execute(sql("history_insert"), params).rowcount)

    def price(c: Connection, first: datetime, last: datetime) -> list[str]:
        return price_day_range(c, first.date(), (last - HOUR).date(), settings, pricing=pricing)

    def in_parallel(work: Callable[[Connection, datetime, datetime], T]) -> list[T]:
        """``work`` on every slice at once, one transaction per connection, committed
        together (or none of them: the first failure rolls every slice back)."""
        with ExitStack() as stack:
            for c in conns:
                stack.enter_context(c.transaction())
            with ThreadPoolExecutor(max_workers=len(conns)) as pool:
                futures = [
                    pool.submit(work, c, first, last)
                    for c, (first, last) in zip(conns, slices, strict=False)
                ]
                return [f.result() for f in futures]

    with conn.transaction():
        conn.execute(sql("history_delete"), {"from": None, "to": start, "source": DEMO_SOURCE})
        conn.execute(sql("history_delete"), {"from": end, "to": None, "source": DEMO_SOURCE})
    rows = sum(in_parallel(write))
    # The evidence is in (committed: pricing is derived from it and re-runnable, as with real
    # telemetry). Statistics before pricing: a fresh cluster has none, and the pricing plan
    # for a million rows it believes absent takes minutes.
    with conn.transaction():
        conn.execute("ANALYZE tenant_usage_hourly")
    progress("pricing every day")
    in_parallel(price)
    progress("pricing the recent hours")
    with conn.transaction():
        price_hours(conn, end - timedelta(days=8), end + HOUR, settings)
    months = []
    month = month_start(start)
    while month <= end:
        period = month_period(f"{month:%Y-%m}")
        progress(f"attributing {period.key}")
        attribute_period(
            conn, period, settings=settings, as_of=end, reprice=False, reopen="demo history loaded"
        )
        months.append(period.key)
        month = add_months(month, 1)
    return HistoryResult(days=days, evidence_rows=rows, months=months)


def day_slices(start: datetime, end: datetime, parts: int) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into at most ``parts`` consecutive slices of about equal length, each
    cut at midnight UTC, so no day is priced by two connections."""
    midnight = start.replace(hour=0) + DAY if start.hour else start
    whole_days = max((end - midnight) // DAY, 0)
    cuts = [midnight + DAY * (whole_days * k // parts) for k in range(1, parts)]
    bounds = [start, *sorted({c for c in cuts if start < c < end}), end]
    return list(itertools.pairwise(bounds))
