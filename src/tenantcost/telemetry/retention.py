"""Usage evidence retention (revision 0020): hourly for a window of days, then daily.

``tenant_usage_hourly`` is partitioned by UTC day (months from before revision 0020: by
month). Each UTC day older than ``TENANTCOST_USAGE_HOURLY_DAYS`` is one slice, one
transaction: the day is re-priced first if its priced cost may be out of date (its evidence
changed, or it was priced with other inputs), its hours are rolled up into
``tenant_usage_daily``, the day is recorded in ``tenant_usage_rolled_days``, and its hours
go — the day's partition dropped, or (a monthly partition) its rows deleted hour by hour.
So no hour is removed that was not rolled up and priced: a failure leaves the whole day as
it was. Daily evidence older than ``TENANTCOST_USAGE_RETENTION_MONTHS`` is deleted day by
day.

Runs at the start of every collector pass (``collect``, ``collect --every``, the dashboard's
collector job) and as ``collect --retention``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from tenantcost.config import Settings, get_settings
from tenantcost.db.connect import Connection
from tenantcost.telemetry.mapping import sql
from tenantcost.telemetry.timeutil import DAY, HOUR, add_months, month_start


@dataclass(frozen=True)
class Partition:
    """One partition of the evidence table: a UTC day (before revision 0020: a month)."""

    name: str
    lower: datetime
    upper: datetime
    bound: str  # FOR VALUES FROM (...) TO (...), as the catalog prints it


@dataclass
class RetentionReport:
    """What one retention run did."""

    hourly_before: datetime
    daily_before: date
    rolled_days: list[date] = field(default_factory=list)
    hourly_rows: int = 0
    repriced_days: list[date] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    daily_days_deleted: int = 0
    notes: list[str] = field(default_factory=list)

    def messages(self, settings: Settings) -> list[str]:
        out = []
        if self.rolled_days:
            first, last = self.rolled_days[0], self.rolled_days[-1]
            out.append(
                f"retention ({settings.usage_hourly_days} days hourly): rolled up "
                f"{len(self.rolled_days)} day(s) {first}..{last} ({self.hourly_rows:,} hourly "
                "rows) into daily evidence"
                + (f", re-priced {len(self.repriced_days)} first" if self.repriced_days else "")
            )
        if self.dropped:
            out.append(
                f"retention: dropped {len(self.dropped)} hourly partition(s) "
                f"({self.dropped[0]}..{self.dropped[-1]})"
            )
        if self.daily_days_deleted:
            out.append(
                f"retention ({settings.usage_retention_months} months): deleted "
                f"{self.daily_days_deleted} day(s) of daily evidence before {self.daily_before}"
            )
        return out + self.notes


def day_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


def hourly_before(now: datetime, hourly_days: int, retention_months: int) -> datetime:
    """Hours before this are rolled up (pure): the UTC day ``now`` falls in and the
    ``hourly_days`` whole days before it stay hourly; with fewer retention months than that,
    the months' start wins (evidence past it is not kept at all)."""
    window = day_start(now) - hourly_days * DAY
    return max(window, daily_before(now, retention_months))


def daily_before(now: datetime, retention_months: int) -> datetime:
    """Evidence (hourly or daily) before this is dropped (pure): the current UTC month and
    the ``retention_months - 1`` before it are kept."""
    return add_months(month_start(now.astimezone(UTC)), -(retention_months - 1))


def parse_bounds(bound: str) -> tuple[datetime, datetime] | None:
    """FROM and TO of ``FOR VALUES FROM ('…') TO ('…')`` (pure); None for DEFAULT."""
    try:
        lower = bound.split("FROM ('", 1)[1].split("')", 1)[0]
        upper = bound.split("TO ('", 1)[1].split("')", 1)[0]
        return (
            datetime.fromisoformat(lower).astimezone(UTC),
            datetime.fromisoformat(upper).astimezone(UTC),
        )
    except (IndexError, ValueError):
        return None


def days_of(lower: datetime, upper: datetime) -> list[datetime]:
    """The UTC day starts in [lower, upper) (pure; lower on a day boundary)."""
    out = []
    at = day_start(lower)
    while at < upper:
        out.append(at)
        at += DAY
    return out


def partitions(
    conn: Connection, start: datetime | None = None, end: datetime | None = None
) -> list[Partition]:
    """The evidence table's partitions, oldest first; with ``start``/``end`` only those
    overlapping [start, end)."""
    out = []
    for r in conn.execute(sql("usage_partitions")).fetchall():
        bounds = parse_bounds(r["bound"])
        if bounds is None:
            continue
        lower, upper = bounds
        if (start is None or upper > start) and (end is None or lower < end):
            out.append(Partition(r["name"], lower, upper, r["bound"]))
    return sorted(out, key=lambda p: p.lower)


def apply_retention(
    conn: Connection,
    now: datetime,
    settings: Settings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> RetentionReport:
    """Roll up and drop the hourly evidence of every UTC day before the window, one
    transaction per day, then delete daily evidence past the retention months."""
    settings = settings or get_settings()
    cutoff = hourly_before(now, settings.usage_hourly_days, settings.usage_retention_months)
    keep_from = daily_before(now, settings.usage_retention_months)
    report = RetentionReport(hourly_before=cutoff, daily_before=keep_from.date())
    pricing: dict[str, Any] | None = None
    for part in partitions(conn):
        if part.lower >= cutoff:
            continue
        whole_days = part.upper - part.lower == DAY
        if whole_days and part.upper <= cutoff:
            pricing = pricing or _pricing(conn, settings)
            _roll_day(conn, part.lower, settings, pricing, report, drop=part.name)
        else:
            rolled = _rolled(conn, part.lower, min(part.upper, cutoff))
            for day in days_of(part.lower, min(part.upper, cutoff)):
                if day.date() in rolled and not _has_rows(conn, day, day + DAY):
                    continue
                pricing = pricing or _pricing(conn, settings)
                _roll_day(conn, day, settings, pricing, report, drop=None)
            if part.upper <= cutoff:
                with conn.transaction():
                    if not _has_rows(conn, part.lower, part.upper):
                        conn.execute(f'DROP TABLE "{part.name}"')
                        report.dropped.append(part.name)
        if progress is not None and report.rolled_days:
            progress(f"rolled up {report.rolled_days[-1]}")
    for row in conn.execute(
        sql("daily_evidence_days_before"), {"before": keep_from.date()}
    ).fetchall():
        with conn.transaction():
            conn.execute(sql("daily_evidence_delete_day"), {"day": row["day"]})
        report.daily_days_deleted += 1
    return report


def _pricing(conn: Connection, settings: Settings) -> dict[str, Any]:
    from tenantcost.attribution.ledger import pricing_params

    return pricing_params(conn, settings)


def _rolled(conn: Connection, start: datetime, end: datetime) -> set[date]:
    rows = conn.execute(
        sql("rolled_days"), {"first": start.date(), "last": (end - HOUR).date()}
    ).fetchall()
    return {r["day"] for r in rows}


def _has_rows(conn: Connection, start: datetime, end: datetime) -> bool:
    row: Any = conn.execute(sql("hourly_rows_exist"), {"start": start, "end": end}).fetchone()
    return bool(row["found"])


def _roll_day(
    conn: Connection,
    day: datetime,
    settings: Settings,
    pricing: dict[str, Any],
    report: RetentionReport,
    *,
    drop: str | None,
) -> None:
    """One slice: price if needed, roll up, record, remove the hours — all or nothing."""
    from tenantcost.attribution.ledger import days_to_price, evidence_distributed, price_days

    end = day + DAY
    bounds = {"day": day.date(), "start": day, "end": end}
    with conn.transaction():
        conn.execute(sql("retention_lock"))
        again = bool(_rolled(conn, day, end))
        if again and not _has_rows(conn, day, end):
            return  # another process rolled it up meanwhile
        stale = days_to_price(conn, day, end, pricing)
        if stale:
            report.notes += price_days(conn, stale, settings, pricing=pricing)
            report.repriced_days += stale
        if again:  # written again since it was rolled up: replace, don't add
            conn.execute(sql("rollup_replace"), bounds)
        counted: Any = conn.execute(sql("rollup_day"), bounds).fetchone()
        mark = "rolled_day_mark_distributed" if evidence_distributed(conn) else "rolled_day_mark"
        conn.execute(sql(mark), {**bounds, "rows": counted["rows"]})
        if drop is not None:
            conn.execute(f'DROP TABLE "{drop}"')
            report.dropped.append(drop)
        else:
            at = day
            while at < end:
                conn.execute(sql("hourly_hour_delete"), {"hour": at})
                at += HOUR
        conn.execute(sql("changed_day_forget"), bounds)
    report.rolled_days.append(day.date())
    report.hourly_rows += int(counted["rows"])
