"""Schedule arithmetic of the executive reports: fire times, the period each covers, what is
due between the last handled time and now — across month ends, leap years and year ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tenantcost.errors import UserError
from tenantcost.execreport.schedule import (
    Kind,
    check_cron,
    due_reports,
    fire_times,
    parse_period,
    period_before,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


HOUR = timedelta(hours=1)


def test_daily_report_after_a_leap_day_covers_february_29() -> None:
    period = period_before(Kind.daily, utc(2028, 3, 1, 6))
    assert (period.start, period.end) == (utc(2028, 2, 29), utc(2028, 3, 1))
    assert period.label == "2028-02-29"
    # 2027 has no 29 February: the day before 1 March is the 28th.
    assert period_before(Kind.daily, utc(2027, 3, 1, 6)).start == utc(2027, 2, 28)


def test_monthly_report_in_january_covers_december_of_the_year_before() -> None:
    period = period_before(Kind.monthly, utc(2027, 1, 1, 6))
    assert (period.start, period.end) == (utc(2026, 12, 1), utc(2027, 1, 1))
    assert period.label == "2026-12"
    feb = period_before(Kind.monthly, utc(2028, 3, 1, 6))
    assert feb.end - feb.start == timedelta(days=29)  # leap February


def test_weekly_report_covers_the_iso_week_before_across_the_year_end() -> None:
    # Monday 2027-01-04 06:00: the week before is Mon 2026-12-28 .. Mon 2027-01-04 = ISO 2026-W53.
    period = period_before(Kind.weekly, utc(2027, 1, 4, 6))
    assert (period.start, period.end) == (utc(2026, 12, 28), utc(2027, 1, 4))
    assert period.label == "2026-W53"
    # Fired on a Wednesday, the week before is still the previous Monday-to-Monday week.
    assert period_before(Kind.weekly, utc(2027, 1, 6, 12)).start == utc(2026, 12, 28)


def test_fire_times_of_a_monthly_cron_across_the_year_end() -> None:
    times = fire_times("0 6 1 * *", utc(2026, 11, 15), utc(2027, 2, 1, 6))
    assert times == [utc(2026, 12, 1, 6), utc(2027, 1, 1, 6), utc(2027, 2, 1, 6)]
    # (after, until]: a fire exactly at `after` was handled already
    assert fire_times("0 6 1 * *", utc(2026, 12, 1, 6), utc(2026, 12, 31)) == []


def test_due_reports_on_time_and_late_after_an_outage() -> None:
    # Last handled: 2026-02-26 07:00. Down until 2026-03-02 06:30 (2026 is not a leap year).
    due = due_reports(
        Kind.daily,
        "0 6 * * *",
        utc(2026, 2, 26, 7),
        utc(2026, 3, 2, 6, 30),
        late_after=HOUR,
        most=31,
    )
    # fires 27 Feb, 28 Feb, 1 Mar, 2 Mar at 06:00 -> the days 26, 27, 28 Feb and 1 Mar
    assert [d.period.label for d in due] == ["2026-02-26", "2026-02-27", "2026-02-28", "2026-03-01"]
    assert [d.late for d in due] == [True, True, True, False]  # only 2 Mar's is 30 min old
    assert due[0].due_at == utc(2026, 2, 27, 6)


def test_due_reports_keep_only_the_newest_periods_and_one_per_period() -> None:
    due = due_reports(
        Kind.daily, "0 6 * * *", utc(2026, 1, 1), utc(2026, 1, 11, 7), late_after=HOUR, most=3
    )
    assert [d.period.label for d in due] == ["2026-01-08", "2026-01-09", "2026-01-10"]
    # An hourly cron for a daily report: 24 fire times, but each day is due once.
    hourly = due_reports(
        Kind.daily,
        "0 * * * *",
        utc(2026, 1, 1, 0, 30),
        utc(2026, 1, 2, 23, 59),
        late_after=timedelta(days=9),
        most=10,
    )
    assert [d.period.label for d in hourly] == ["2025-12-31", "2026-01-01"]
    assert hourly[1].due_at == utc(2026, 1, 2, 0)  # the first fire time in that day's report
    assert (
        due_reports(
            Kind.daily, "0 6 * * *", utc(2026, 1, 1), utc(2026, 1, 3), late_after=HOUR, most=0
        )
        == []
    )


def test_bad_cron_and_bad_periods_are_user_errors() -> None:
    with pytest.raises(UserError, match="not a five-field cron"):
        check_cron("0 6 * *")
    with pytest.raises(UserError, match="not a five-field cron"):
        check_cron("61 6 * * *")
    assert check_cron(" 0  6 * * 1 ") == "0 6 * * 1"
    with pytest.raises(UserError, match="not a weekly period"):
        parse_period(Kind.weekly, "2026-W54")
    with pytest.raises(UserError, match="not a daily period"):
        parse_period(Kind.daily, "2027-02-29")
    assert parse_period(Kind.weekly, "2026-W53").start == utc(2026, 12, 28)
    assert parse_period(Kind.weekly, "2026-12-31").start == utc(2026, 12, 28)  # a Thursday
    assert parse_period(Kind.monthly, "2028-02").end == utc(2028, 3, 1)
    assert parse_period(Kind.daily, "2028-02-29").end == utc(2028, 3, 1)


def test_periods_far_out_of_range_are_refused_not_overflowed() -> None:
    for kind, text in (
        (Kind.weekly, "9999-12-31"),
        (Kind.monthly, "9999-12"),
        (Kind.daily, "0001-01-01"),
    ):
        with pytest.raises(UserError, match="out of range"):
            parse_period(kind, text)


def test_the_shipped_schedules_are_valid_and_other_values_are_still_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings skip croniter for the shipped defaults (start-up time), so they must be valid
    as written; any other value is checked when the settings load."""
    from tenantcost.config import SHIPPED_CRONS, load_settings

    for expression in SHIPPED_CRONS:
        assert check_cron(expression) == expression
    # daily 06:00, weekly Monday 06:00, monthly the 1st 06:00 (UTC)
    assert [fire_times(e, utc(2026, 11, 30, 7), utc(2026, 12, 8))[0] for e in SHIPPED_CRONS] == [
        utc(2026, 12, 1, 6),
        utc(2026, 12, 7, 6),
        utc(2026, 12, 1, 6),
    ]
    monkeypatch.setenv("TENANTCOST_REPORT_WEEKLY_CRON", "0 6 * * 9")
    with pytest.raises(UserError, match=r"report_weekly_cron.*not a five-field cron"):
        load_settings()
