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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tenantcost.attribution.ledger import attribute_period, price_day_range, price_hours
from tenantcost.config import Settings, get_settings
from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.telemetry.timeutil import add_months, hour_of, month_period, month_start

DEMO_SOURCE = "demo"


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
) -> HistoryResult:
    """Write ``days`` of demo evidence up to the current hour and price it like real usage:
    every day, the recent hours, and each month it touches (past months close on their own
    schedule). Replaces earlier demo evidence; real telemetry is left alone."""
    settings = settings or get_settings()
    end = hour_of(now or datetime.now(UTC))
    start = end - timedelta(days=days)
    with conn.transaction():
        conn.execute(sql("history_delete"), {"source": DEMO_SOURCE})
        month = month_start(start)
        while month < end:
            conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (month,))
            month = add_months(month, 1)
        progress(f"{days} days of usage evidence")
        row = conn.execute(
            sql("history_insert"),
            {
                "start": start,
                "end": end,
                "seed": seed,
                "memory_mb": settings.connection_memory_mb,
                "spike": end - timedelta(hours=2),
            },
        )
        rows = row.rowcount
        conn.execute("ANALYZE tenant_usage_hourly")  # a bulk load: plan with real counts
    progress("pricing every day")
    with conn.transaction():
        price_day_range(conn, start.date(), end.date(), settings)
        price_hours(conn, end - timedelta(days=8), end + timedelta(hours=1), settings)
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
