"""How the demo history's window is cut for parallel writers: whole days, no gap, no overlap."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from tenantcost.demo.history import day_slices

H = timedelta(hours=1)


def test_cut_at_midnight_into_halves() -> None:
    start = datetime(2026, 10, 2, 15, tzinfo=UTC)
    end = datetime(2026, 12, 1, 15, tzinfo=UTC)  # 60 days
    # Whole days from Oct 3 to Dec 1 00:00: 59; the cut falls 29 days after Oct 3.
    assert day_slices(start, end, 2) == [
        (start, datetime(2026, 11, 1, tzinfo=UTC)),
        (datetime(2026, 11, 1, tzinfo=UTC), end),
    ]


def test_one_part_is_the_whole_window() -> None:
    start = datetime(2026, 11, 1, 5, tzinfo=UTC)
    assert day_slices(start, start + 30 * H, 1) == [(start, start + 30 * H)]


def test_too_short_for_a_cut_stays_whole() -> None:
    start = datetime(2026, 11, 1, 5, tzinfo=UTC)
    end = datetime(2026, 11, 1, 20, tzinfo=UTC)  # no midnight inside
    assert day_slices(start, end, 2) == [(start, end)]


def test_slices_cover_the_window_exactly() -> None:
    start = datetime(2026, 1, 30, 23, tzinfo=UTC)
    end = start + timedelta(days=10)
    slices = day_slices(start, end, 3)
    assert slices[0][0] == start and slices[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(slices))
    assert all(cut.hour == 0 for _, cut in slices[:-1])
