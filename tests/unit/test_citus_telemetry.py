"""citus_stat_tenants periods into per-pass growth, and shard row shares, computed by hand."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from tenantcost.telemetry.citus import Growth, TenantPeriods, growth, period_of, shard_share_bytes

A = "3f1c2d4e-0000-4000-8000-000000000001"


def row(q_this: int, q_last: int, cpu_this: str, cpu_last: str) -> TenantPeriods:
    return TenantPeriods(2, 1, A, q_this, q_last, Decimal(cpu_this), Decimal(cpu_last))


def seen(queries: int, cpu: str) -> dict[str, dict[str, object]]:
    return {f"2/1/{A}": {"queries": queries, "cpu": cpu}}


def test_periods_are_aligned_to_their_length() -> None:
    assert period_of(119.9, 60) == 1 and period_of(120.0, 60) == 2


def test_first_pass_is_a_baseline() -> None:
    grown, state, skipped = growth({}, None, [row(5, 0, "0.5", "0")], 10)
    assert grown == [] and not skipped
    assert state == {f"2/1/{A}": {"queries": 5, "cpu": "0.5"}}


def test_same_period_books_what_grew() -> None:
    grown, _, _ = growth(seen(5, "0.5"), 10, [row(12, 0, "1.25", "0")], 10)
    assert grown == [Growth(A, 7, Decimal("0.750000"))]


def test_next_period_books_the_rest_of_the_last_and_the_new_one() -> None:
    # previous pass saw 5 queries / 0.5 s; the period closed at 9 / 0.9 s; 3 / 0.2 s since
    grown, _, skipped = growth(seen(5, "0.5"), 10, [row(3, 9, "0.2", "0.9")], 11)
    assert grown == [Growth(A, 4 + 3, Decimal("0.600000"))] and not skipped


def test_a_skipped_period_books_what_is_left_and_says_so() -> None:
    grown, _, skipped = growth(seen(5, "0.5"), 10, [row(3, 9, "0.2", "0.9")], 12)
    assert grown == [Growth(A, 12, Decimal("1.100000"))] and skipped


def test_a_tenant_new_since_the_previous_pass_counts_from_zero() -> None:
    grown, _, _ = growth(seen(5, "0.5") | {"x": {"queries": 1, "cpu": "0"}}, 10, [], 10)
    assert grown == []
    other = TenantPeriods(3, 1, "b", 4, 0, Decimal("0.4"), Decimal(0))
    grown, _, _ = growth(seen(5, "0.5"), 10, [other], 10)
    assert grown == [Growth("b", 4, Decimal("0.400000"))]


def test_shard_share_by_rows() -> None:
    a, b, c = UUID(int=1), UUID(int=2), UUID(int=3)
    # shard 7: a 30 rows, b 10 rows of 8,000 bytes; shard 8: c alone, 5,000 bytes
    shares = shard_share_bytes([(a, 7, 30), (b, 7, 10), (c, 8, 2)], {7: 8000, 8: 5000})
    assert shares == {a: Decimal(6000), b: Decimal(2000), c: Decimal(5000)}
