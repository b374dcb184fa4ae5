"""The demo history's runs: consecutive partitions of one kind written by one insert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tenantcost.demo.history import runs
from tenantcost.telemetry.retention import Partition


def day(n: int) -> datetime:
    return datetime(2026, 11, n, tzinfo=UTC)


def test_fresh_days_in_a_row_are_one_run_and_the_others_stay_in_place() -> None:
    parts = [Partition(f"d{n}", day(n), day(n + 1), "…") for n in range(1, 5)]
    fresh = [parts[1], parts[2]]
    first, last = day(1) + timedelta(hours=12), day(4) + timedelta(hours=6)
    assert runs(first, last, parts, fresh) == [
        (first, day(2), False),  # the 1st holds evidence: written in place
        (day(2), day(4), True),  # the 2nd and 3rd: one insert into the staging table
        (day(4), last, False),
    ]
    assert runs(first, last, parts, parts) == [(first, last, True)]
