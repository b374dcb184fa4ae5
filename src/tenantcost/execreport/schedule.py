"""(pure) When executive reports are due and which period each one covers, in UTC.

A report kind (daily, weekly, monthly) fires at the times of its cron expression (UTC, no
DST: five fields, minute hour day-of-month month day-of-week, read by ``croniter``). A report
fired at time *t* covers the last whole period that ended at or before *t*: the UTC day
before *t*'s day, the ISO week (Monday 00:00 to Monday 00:00) before *t*'s week, the calendar
month before *t*'s month. Between the last handled time and now every fire time is due once;
one whose time passed more than ``late_after`` ago is marked late (the service was down).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from croniter import croniter

from tenantcost.errors import UserError


class Kind(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


@dataclass(frozen=True)
class Period:
    kind: Kind
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        """How people name it: 2026-11-30, 2026-W48, 2026-11."""
        if self.kind is Kind.daily:
            return f"{self.start:%Y-%m-%d}"
        if self.kind is Kind.weekly:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start:%Y-%m}"


@dataclass(frozen=True)
class DueReport:
    period: Period
    due_at: datetime
    late: bool


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _previous_month(start: datetime) -> datetime:
    return (
        _month_start(start.year - 1, 12)
        if start.month == 1
        else start.replace(month=start.month - 1)
    )


def _next_month(start: datetime) -> datetime:
    return (
        _month_start(start.year + 1, 1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def period_containing(kind: Kind, moment: datetime) -> Period:
    """The day, ISO week or month that contains ``moment``."""
    day = _midnight(moment)
    if kind is Kind.daily:
        return Period(kind, day, day + timedelta(days=1))
    if kind is Kind.weekly:
        monday = day - timedelta(days=day.weekday())
        return Period(kind, monday, monday + timedelta(days=7))
    first = _month_start(day.year, day.month)
    return Period(kind, first, _next_month(first))


def period_before(kind: Kind, fired_at: datetime) -> Period:
    """The last whole period that ended at or before ``fired_at``."""
    current = period_containing(kind, fired_at)
    if kind is Kind.monthly:
        return Period(kind, _previous_month(current.start), current.start)
    length = current.end - current.start
    return Period(kind, current.start - length, current.start)


def check_cron(expression: str, what: str = "cron expression") -> str:
    """A five-field cron expression (UTC), or UserError naming it."""
    text = " ".join(expression.split())
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise UserError(
            f"{what} {expression!r} is not a five-field cron expression",
            "write minute hour day-of-month month day-of-week, e.g. '0 6 * * 1' "
            "(Mondays 06:00 UTC); an empty value turns that report off",
        )
    return text


def fire_times(expression: str, after: datetime, until: datetime) -> list[datetime]:
    """Every time the expression fires in (after, until], oldest first."""
    times: list[datetime] = []
    it = croniter(check_cron(expression), after.astimezone(UTC))
    while True:
        moment = it.get_next(datetime).astimezone(UTC)
        if moment > until:
            return times
        times.append(moment)


def next_fire_times(expression: str, now: datetime, count: int) -> list[datetime]:
    it = croniter(check_cron(expression), now.astimezone(UTC))
    return [it.get_next(datetime).astimezone(UTC) for _ in range(count)]


def due_reports(
    kind: Kind,
    expression: str,
    last: datetime,
    now: datetime,
    *,
    late_after: timedelta,
    most: int,
) -> list[DueReport]:
    """The reports due for fire times in (last, now], one per period (the first fire time
    of a period decides), oldest first; at most the ``most`` newest periods (a long outage
    sends the recent ones, not years of them)."""
    due: dict[datetime, DueReport] = {}
    for moment in fire_times(expression, last, now):
        period = period_before(kind, moment)
        if period.start not in due:
            due[period.start] = DueReport(period, moment, now - moment > late_after)
    ordered = sorted(due.values(), key=lambda d: d.period.start)
    return ordered[-most:] if most > 0 else []


_WEEK = re.compile(r"(\d{4})-W(\d{2})")


def parse_period(kind: Kind, text: str) -> Period:
    """A period named by people: daily 2026-11-30, weekly 2026-W48 (or any date in the
    week), monthly 2026-11 (or any date in the month)."""
    text = text.strip()
    hint = {
        Kind.daily: "a day as YYYY-MM-DD",
        Kind.weekly: "an ISO week as YYYY-Www (e.g. 2026-W48) or a date in it",
        Kind.monthly: "a month as YYYY-MM or a date in it",
    }[kind]
    try:
        week = _WEEK.fullmatch(text)
        if week and kind is Kind.weekly:
            monday = date.fromisocalendar(int(week[1]), int(week[2]), 1)
            moment = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
        elif kind is Kind.monthly and re.fullmatch(r"\d{4}-\d{2}", text):
            moment = datetime.strptime(text + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
        else:
            moment = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise UserError(f"--period {text!r} is not a {kind.value} period", f"give {hint}") from None
    if not 1970 <= moment.year <= 9000:
        raise UserError(f"--period {text!r} is out of range", "give a year from 1970 to 9000")
    return period_containing(kind, moment)
