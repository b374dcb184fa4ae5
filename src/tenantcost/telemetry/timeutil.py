"""UTC hours, months and periods (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tenantcost.errors import UserError

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def hour_of(moment: datetime) -> datetime:
    """The UTC hour containing ``moment`` (which must be timezone-aware)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def month_start(moment: datetime) -> datetime:
    return hour_of(moment).replace(day=1, hour=0)


def add_months(moment: datetime, months: int) -> datetime:
    """First-of-month arithmetic (``moment`` is a month start)."""
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def hours_in_month(moment: datetime) -> int:
    start = month_start(moment)
    return int((add_months(start, 1) - start) / HOUR)


@dataclass(frozen=True)
class Period:
    """A month (``2025-11``) or an hour (``2025-11-21T10``), UTC, half-open [start, end)."""

    key: str
    start: datetime
    end: datetime
    kind: str

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)

    def month_fraction(self) -> Decimal:
        """How much of its month the period covers (1 for a month)."""
        if self.kind == "month":
            return Decimal(1)
        return Decimal(self.hours) / Decimal(hours_in_month(self.start))

    def each_hour(self) -> list[datetime]:
        return [self.start + i * HOUR for i in range(self.hours)]


MONTH_RE = re.compile(r"^([0-9]{4})-([0-9]{2})$")
HOUR_RE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2})(?::00)?(?:Z)?$")
#: Years a period may be in: usage before 1970 or after 9000 is a typo (and 0 / 9999 break
#: date arithmetic at the calendar's edges).
MIN_YEAR, MAX_YEAR = 1970, 9000


def check_year(year: int, text: str, example: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise UserError(f"{text!r} is outside the years {MIN_YEAR}-{MAX_YEAR}", f"e.g. {example}")


def month_period(text: str) -> Period:
    match = MONTH_RE.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise UserError(f"month {text!r} is not YYYY-MM", "e.g. --month 2025-11")
    check_year(int(match.group(1)), text, "--month 2025-11")
    start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)
    return Period(f"{start:%Y-%m}", start, add_months(start, 1), "month")


def hour_period(moment: datetime) -> Period:
    start = hour_of(moment)
    return Period(f"{start:%Y-%m-%dT%H}", start, start + HOUR, "hour")


def parse_hour(text: str) -> Period:
    match = HOUR_RE.match(text.strip())
    if not match:
        raise UserError(f"hour {text!r} is not YYYY-MM-DDTHH (UTC)", "e.g. --hour 2025-11-21T10")
    check_year(int(match.group(1)), text, "--hour 2025-11-21T10")
    try:
        year, month, day, hour = (int(g) for g in match.groups())
        start = datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError as exc:
        raise UserError(f"hour {text!r} is not a real time: {exc}", "e.g. 2025-11-21T10") from exc
    return hour_period(start)


def current_month(now: datetime | None = None) -> Period:
    now = now or datetime.now(UTC)
    return month_period(f"{now.astimezone(UTC):%Y-%m}")


MICRO = Decimal("0.000001")


def split_across_hours(
    start: datetime, end: datetime, quantity: Decimal, *, places: Decimal = MICRO
) -> dict[datetime, Decimal]:
    """``quantity`` accrued evenly over [start, end) spread over the UTC hours it covers,
    in proportion to the time in each hour (pure). Parts are rounded to ``places`` and the
    rounding remainder goes to the last hour, so the parts add up to ``quantity`` exactly.
    An empty or reversed interval books everything to the hour containing ``end``."""
    if start >= end:
        return {hour_of(end): quantity}
    total = Decimal((end - start) // timedelta(microseconds=1))
    parts: dict[datetime, Decimal] = {}
    hour = hour_of(start)
    booked = Decimal(0)
    while hour < end:
        lo, hi = max(start, hour), min(end, hour + HOUR)
        span = Decimal((hi - lo) // timedelta(microseconds=1))
        part = (quantity * span / total).quantize(places)
        parts[hour] = part
        booked += part
        hour += HOUR
    last = max(parts)
    parts[last] += quantity - booked
    return parts
