"""The dashboard's page cache (pure: no database) and the tables' queries without ORDER BY."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from tenantcost.report.reports import REPORTS
from tenantcost.report.rollup import sql as report_query
from tenantcost.web.cache import Generation, PageCache, approx_size, newer
from tenantcost.web.metrics import cache_families
from tenantcost.web.tables import unordered

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
GEN = Generation(T0, 0, "2026-12")


def test_a_second_request_is_served_without_computing() -> None:
    cache = PageCache(1_000_000, 100)
    calls: list[str] = []

    def compute() -> str:
        calls.append("x")
        return "figures"

    assert cache.get(GEN, "overview", compute) == "figures"
    assert cache.get(GEN, "overview", compute) == "figures"
    assert calls == ["x"]
    assert (cache.stats.hits, cache.stats.misses, cache.stats.computes) == (1, 1, 1)


def test_a_refresh_or_a_counted_change_computes_again() -> None:
    cache = PageCache(1_000_000, 100)
    values = iter(["before", "stale note", "after"])
    assert cache.get(GEN, "k", lambda: next(values)) == "before"
    changed = Generation(T0, 1, "2026-12")  # a cost input changed: the note must say so
    assert cache.get(changed, "k", lambda: next(values)) == "stale note"
    refreshed = Generation(T0 + timedelta(minutes=15), 0, "2026-12")
    assert cache.get(refreshed, "k", lambda: next(values)) == "after"
    assert cache.stats.computes == 3 and cache.stats.invalidations == 2
    assert cache.stats.entries == 1


def test_a_request_that_read_an_older_generation_keeps_nothing() -> None:
    cache = PageCache(1_000_000, 100)
    refreshed = Generation(T0 + timedelta(minutes=15), 0, "2026-12")
    cache.get(refreshed, "k", lambda: "new")
    assert cache.get(GEN, "k", lambda: "old") == "old"  # read before the refresh committed
    assert cache.get(refreshed, "k", lambda: "recomputed") == "new"  # new entry still there
    assert cache.stats.entries == 1


def test_newer_orders_refresh_first_then_changes() -> None:
    later = Generation(T0 + timedelta(seconds=1), 0, "2026-12")
    assert newer(GEN, None)
    assert newer(later, Generation(T0, 5, "2026-12"))  # a refresh resets the count
    assert not newer(GEN, later)
    assert newer(Generation(T0, 2, "2026-12"), Generation(T0, 1, "2026-12"))
    assert newer(GEN, Generation(None, 3, None))
    assert not newer(Generation(None, 0, None), GEN)


def test_entries_are_bounded_least_recently_used_first() -> None:
    cache = PageCache(1_000_000, 3)
    for key in "abc":
        cache.get(GEN, key, lambda key=key: key)
    cache.get(GEN, "a", lambda: "recomputed")  # a is now the most recently used
    cache.get(GEN, "d", lambda: "d")  # drops b, the least recently used
    assert cache.stats.entries == 3 and cache.stats.evictions == 1
    assert cache.get(GEN, "a", lambda: "recomputed") == "a"
    assert cache.get(GEN, "b", lambda: "recomputed") == "recomputed"


def test_bytes_are_bounded_and_a_huge_value_is_not_kept() -> None:
    value = "x" * 10_000  # ~10.5 KB an entry with its key
    budget = 45_000  # 4 fit, not 5; a value may take a quarter (11,250 bytes)
    cache = PageCache(budget, 1000)
    for key in range(10):
        cache.get(GEN, key, lambda: value)
    assert cache.stats.bytes <= budget
    assert cache.stats.entries == 4 and cache.stats.evictions == 6
    huge = "y" * 12_000  # more than a quarter of the budget: served, never kept
    assert cache.get(GEN, "huge", lambda: huge) == huge
    assert cache.get(GEN, "huge", lambda: "again") == "again"


def test_approx_size_counts_what_containers_hold() -> None:
    row = {"company_name": "a" * 1000, "cost": 1}
    assert approx_size([row, row]) > 2000
    assert approx_size("a" * 1000) >= 1000


def test_approx_size_of_a_long_list_extrapolates_its_first_items() -> None:
    rows = [{"company_name": "a" * 1000}] * 100  # each row ~1,000 bytes of text and more
    estimate = approx_size(rows)
    assert 100 * 1000 < estimate < 100 * 2000
    # measured item by item it is the same (the rows are alike)
    walked = sys.getsizeof(rows) + sum(approx_size(r) for r in rows)
    assert estimate == walked


def test_concurrent_misses_compute_once() -> None:
    cache = PageCache(1_000_000, 100)
    started = threading.Event()
    release = threading.Event()
    calls = []

    def slow() -> str:
        calls.append(1)
        started.set()
        assert release.wait(10)
        return "figures"

    results: list[str] = []
    leader = threading.Thread(target=lambda: results.append(cache.get(GEN, "k", slow)))
    leader.start()
    assert started.wait(10)
    waiters = [
        threading.Thread(target=lambda: results.append(cache.get(GEN, "k", slow))) for _ in range(5)
    ]
    for t in waiters:
        t.start()
    release.set()
    for t in [leader, *waiters]:
        t.join(10)
    assert results == ["figures"] * 6 and calls == [1]


def test_a_failed_compute_is_not_kept_and_reaches_every_waiter() -> None:
    cache = PageCache(1_000_000, 100)

    def boom() -> str:
        raise ValueError("database away")

    with pytest.raises(ValueError):
        cache.get(GEN, "k", boom)
    assert cache.get(GEN, "k", lambda: "back") == "back"


def test_a_zero_budget_turns_the_cache_off() -> None:
    cache = PageCache(0, 100)
    assert cache.get(GEN, "k", lambda: 1) == 1
    assert cache.get(GEN, "k", lambda: 2) == 2
    assert cache.stats.computes == 2


@pytest.mark.parametrize("name", ["health", "optimization", "cost-by-plan", "cost-per-email"])
def test_table_queries_lose_only_their_order_by(name: str) -> None:
    text = report_query(REPORTS[name].query)
    bare = unordered(text)
    assert "ORDER BY" not in bare
    assert "\nSELECT " in bare and text.startswith(bare)
    assert "WHERE period = %(period)s" in bare


def test_cache_metrics_families() -> None:
    lines = cache_families({"hits": 4, "computes": 1, "entries": 2})
    assert "tenantcost_web_cache_hits_total 4" in lines
    assert "tenantcost_web_cache_computes_total 1" in lines
    assert "tenantcost_web_cache_entries 2" in lines
    assert "# TYPE tenantcost_web_cache_entries gauge" in lines
