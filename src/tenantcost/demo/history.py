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

from psycopg import sql as pgsql

from tenantcost.attribution.ledger import (
    attribute_period,
    evidence_distributed,
    price_day_range,
    price_hours,
    pricing_params,
)
from tenantcost.config import Settings, get_settings
from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.telemetry.retention import Partition
from tenantcost.telemetry.retention import partitions as evidence_partitions
from tenantcost.telemetry.timeutil import (
    DAY,
    HOUR,
    add_months,
    hour_of,
    month_period,
    month_start,
)

T = TypeVar("T")
DEMO_SOURCE = "demo"


@dataclass(frozen=True)
class HistoryResult:
    days: int
    evidence_rows: int
    months: list[str]


def sql(name: str) -> str:
    return queries("tenantcost.demo")[name]


#: The table every writer of usage evidence writes to (partitioned by day since revision 0020).
EVIDENCE = "tenant_usage_hourly"
#: Where the demo history writes the partitions that hold no evidence yet (then attached).
STAGING = "demo_history_load"


def history_insert(target: str = EVIDENCE) -> pgsql.Composed:
    """The demo evidence insert (``history_insert``) into ``target``: the evidence table or a
    partition's staging table (:func:`attach_partitions`)."""
    return pgsql.SQL(sql("history_insert")).format(target=pgsql.Identifier(target))


def staging_name(partition: Partition) -> str:
    """The staging table (a partition of ``STAGING``) that stands in for ``partition``."""
    return f"demo_history_load_{partition.name}"


def load_history(
    conn: Connection,
    *,
    days: int = 60,
    seed: int = 7,
    now: datetime | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    more: Sequence[Connection] = (),
    evidence_written: Callable[[], None] = lambda: None,
) -> HistoryResult:
    """Write ``days`` of demo evidence up to the current hour and price it like real usage:
    every day, the recent hours, and each month it touches (past months close on their own
    schedule). Replaces earlier demo evidence; real telemetry is left alone.

    With ``more`` connections the window is cut into whole-day slices written and priced at
    once, one per connection (a bulk load is CPU-bound in the server: two cores, two
    connections); the slices commit together or not at all. ``evidence_written`` is called
    once the evidence is committed, before it is priced (the main job starts its telemetry
    workload then, to use the core the single-connection pricing steps leave idle)."""
    settings = settings or get_settings()
    end = hour_of(now or datetime.now(UTC))
    start = end - timedelta(days=days)
    conns = [conn, *more]
    slices = day_slices(start, end, len(conns))
    window = {"start": start, "end": end, "seed": seed, "spike": end - timedelta(hours=2)}
    months = []
    month = month_start(start)
    while month < end:
        months.append(month)
        month = add_months(month, 1)
    with conn.transaction():  # partitions first (DDL would serialise the writers)
        for month in months:
            conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (month,))
        pricing = pricing_params(conn, settings)
        distributed = evidence_distributed(conn)
        if distributed:  # one writer: parallel multi-shard DELETEs would wait for each other
            conns = [conn]
            slices = day_slices(start, end, 1)
        # A partition without any evidence yet (the first `make run`) is written into a
        # staging table and attached in its place: PostgreSQL then builds the indexes once and
        # checks the foreign key once for all its rows (attach_partitions), instead of per
        # row. Partitions that hold evidence (a reload, real telemetry) are written in place.
        # (Only on a plain PostgreSQL table: a Citus-distributed one keeps the in-place write.)
        partitions = evidence_partitions(conn, start, end)
        fresh = [
            p
            for p in partitions
            if not distributed
            and not _one(conn, sql("range_has_evidence"), {"from": p.lower, "to": p.upper})
        ]
    progress(f"{days} days of usage evidence")

    def write(c: Connection, first: datetime, last: datetime) -> int:
        rows = 0
        for a, b, staged in runs(first, last, partitions, fresh):
            target = STAGING if staged else EVIDENCE
            bounds = {"from": a, "to": b, "source": DEMO_SOURCE}
            c.execute(sql("history_delete"), bounds)
            params = {**window, **bounds, "memory_mb": settings.connection_memory_mb}
            rows += int(c.execute(history_insert(target), params).rowcount)
            if distributed:  # no statement triggers there (db distribute): mark the days
                c.execute(sql("mark_changed_days"), bounds)
        return rows

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
        create_staging(conn, fresh)
    try:
        rows = sum(in_parallel(write))
        with conn.transaction():
            attach_partitions(conn, fresh, start, end)
    finally:
        with conn.transaction():
            conn.execute(pgsql.SQL("DROP TABLE IF EXISTS {}").format(pgsql.Identifier(STAGING)))
    # The evidence is in (committed: pricing is derived from it and re-runnable, as with real
    # telemetry). Statistics before pricing: a fresh cluster has none, and the pricing plan
    # for a million rows it believes absent takes minutes.
    with conn.transaction():
        conn.execute("ANALYZE tenant_usage_hourly")
    evidence_written()
    progress("pricing every day")
    in_parallel(price)
    progress("pricing the recent hours")
    with conn.transaction():
        price_hours(conn, end - timedelta(days=8), end + HOUR, settings)
    attributed = []
    month = month_start(start)
    while month <= end:
        period = month_period(f"{month:%Y-%m}")
        progress(f"attributing {period.key}")
        attribute_period(
            conn, period, settings=settings, as_of=end, reprice=False, reopen="demo history loaded"
        )
        attributed.append(period.key)
        month = add_months(month, 1)
    return HistoryResult(days=days, evidence_rows=rows, months=attributed)


def _one(conn: Connection, query: str, params: Sequence[object] | dict[str, object]) -> object:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return next(iter(row.values()))


def create_staging(conn: Connection, fresh: Sequence[Partition]) -> None:
    """An empty table shaped like the evidence table (columns, defaults, CHECK constraints;
    no indexes, no foreign key: the attach brings them once), partitioned like it for the
    ``fresh`` partitions: one insert per slice fills them all."""
    staging = pgsql.Identifier(STAGING)
    conn.execute(pgsql.SQL("DROP TABLE IF EXISTS {}").format(staging))
    conn.execute(
        pgsql.SQL(
            "CREATE TABLE {} (LIKE {} INCLUDING ALL EXCLUDING INDEXES) PARTITION BY RANGE (hour)"
        ).format(staging, pgsql.Identifier(EVIDENCE))
    )
    for p in fresh:
        conn.execute(
            pgsql.SQL("CREATE TABLE {} PARTITION OF {} {}").format(
                pgsql.Identifier(staging_name(p)), staging, pgsql.SQL(p.bound)
            )
        )


def runs(
    first: datetime, last: datetime, partitions: Sequence[Partition], fresh: Sequence[Partition]
) -> list[tuple[datetime, datetime, bool]]:
    """[first, last) cut into runs of consecutive partitions that are all fresh (written into
    the staging table) or all not (written in place): one insert per run (pure)."""
    fresh_lowers = {p.lower for p in fresh}
    out: list[tuple[datetime, datetime, bool]] = []
    for a, b in pieces(first, last, [p.lower for p in partitions]):
        home = next((p for p in partitions if p.lower <= a < p.upper), None)
        staged = home is not None and home.lower in fresh_lowers
        if out and out[-1][2] == staged and out[-1][1] == a:
            out[-1] = (out[-1][0], b, staged)
        else:
            out.append((a, b, staged))
    return out


def attach_partitions(
    conn: Connection, partitions: Sequence[Partition], start: datetime, end: datetime
) -> None:
    """Each staging table takes its partition's place in the evidence table, in the caller's
    transaction: the empty partition ``tenantcost_ensure_usage_partition`` made is detached
    and dropped, the staging table takes its name and is attached with its bound. Attaching
    builds the partition's indexes (the unique key rejects duplicates) and checks the
    foreign key to telemetry_metrics for every row (a row without a catalogued metric fails
    the attach, and with it the load); other writers keep the per-row check. The days are
    marked changed, as the statement triggers do for rows inserted through the table. A
    partition that gained evidence meanwhile takes the rows by an ordinary insert, and so
    does every partition when the table has row-level triggers (attached rows would skip
    them)."""
    evidence = pgsql.Identifier(EVIDENCE)
    row_triggers = bool(_one(conn, sql("evidence_row_triggers"), {}))
    for p in partitions:
        staging, partition = pgsql.Identifier(staging_name(p)), pgsql.Identifier(p.name)
        conn.execute(
            pgsql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                pgsql.Identifier(STAGING), staging
            )
        )
        conn.execute(pgsql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(partition))
        empty = not conn.execute(pgsql.SQL("SELECT 1 FROM {} LIMIT 1").format(partition)).fetchone()
        if row_triggers or not empty:
            conn.execute(pgsql.SQL("INSERT INTO {} SELECT * FROM {}").format(evidence, staging))
            conn.execute(pgsql.SQL("DROP TABLE {}").format(staging))
            continue
        conn.execute(pgsql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(evidence, partition))
        conn.execute(pgsql.SQL("DROP TABLE {}").format(partition))
        conn.execute(pgsql.SQL("ALTER TABLE {} RENAME TO {}").format(staging, partition))
        conn.execute(
            pgsql.SQL("ALTER TABLE {} ATTACH PARTITION {} {}").format(
                evidence, partition, pgsql.SQL(p.bound)
            )
        )
        window = {"from": max(p.lower, start), "to": min(p.upper, end)}
        conn.execute(sql("mark_changed_days"), window)


def pieces(
    first: datetime, last: datetime, cuts: Sequence[datetime]
) -> list[tuple[datetime, datetime]]:
    """[first, last) cut at the partitions' starts (each piece lies in one partition; pure)."""
    inside = sorted(c for c in cuts if first < c < last)
    return list(itertools.pairwise([first, *inside, last]))


def day_slices(start: datetime, end: datetime, parts: int) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into at most ``parts`` consecutive slices of about equal length, each
    cut at midnight UTC, so no day is priced by two connections."""
    midnight = start.replace(hour=0) + DAY if start.hour else start
    whole_days = max((end - midnight) // DAY, 0)
    cuts = [midnight + DAY * (whole_days * k // parts) for k in range(1, parts)]
    bounds = [start, *sorted({c for c in cuts if start < c < end}), end]
    return list(itertools.pairwise(bounds))
