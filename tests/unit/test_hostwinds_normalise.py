"""Billing-cycle price -> monthly USD, rounded half up to cents. Expected values by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenantcost.errors import UserError
from tenantcost.providers.normalise import cycle_months, monthly_cost, round_cents


@pytest.mark.parametrize(
    ("price", "cycle", "expected"),
    [
        ("9.99", "monthly", "9.99"),  # 9.99 / 1
        ("28.47", "quarterly", "9.49"),  # 28.47 / 3 = 9.49 exactly
        ("53.95", "semiannually", "8.99"),  # 53.95 / 6 = 8.99166… -> 8.99
        ("107.88", "annually", "8.99"),  # 107.88 / 12 = 8.99 exactly
        ("203.76", "biennially", "8.49"),  # 203.76 / 24 = 8.49 exactly
        ("299.64", "triennially", "8.32"),  # 299.64 / 36 = 8.3233… -> 8.32
        ("299.70", "triennially", "8.33"),  # 299.70 / 36 = 8.325 -> half up 8.33 (even: 8.32)
        ("100.14", "annually", "8.35"),  # 100.14 / 12 = 8.345 -> half up 8.35 (even: 8.34)
        ("0.12", "biennially", "0.01"),  # 0.12 / 24 = 0.005 -> half up 0.01 (even: 0.00)
        ("2.345", "monthly", "2.35"),  # already monthly, 2.345 -> 2.35
        ("1025.64", "triennially", "28.49"),  # 28.49 * 36 = 1025.64
        ("0", "annually", "0.00"),
    ],
)
def test_monthly_cost_for_every_cycle(price: str, cycle: str, expected: str) -> None:
    result = monthly_cost(Decimal(price), cycle)
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == -2  # always cents


def test_months_per_cycle() -> None:
    assert [
        cycle_months(c)
        for c in ("monthly", "quarterly", "semiannually", "annually", "biennially", "triennially")
    ] == [1, 3, 6, 12, 24, 36]


def test_cycle_name_is_case_and_space_insensitive() -> None:
    assert monthly_cost(Decimal("107.88"), " Annually ") == Decimal("8.99")


@pytest.mark.parametrize("cycle", ["weekly", "yearly", "", None, "hourly"])
def test_unknown_cycle_is_a_user_error(cycle: str | None) -> None:
    with pytest.raises(UserError) as info:
        monthly_cost(Decimal("10.00"), cycle)
    assert "billing cycle" in info.value.message
    assert info.value.hint is not None and "triennially" in info.value.hint


def test_negative_price_means_cycle_not_offered() -> None:
    with pytest.raises(UserError, match="not offered"):
        monthly_cost(Decimal("-1.00"), "biennially")


def test_nan_price_is_rejected() -> None:
    with pytest.raises(UserError, match="finite"):
        monthly_cost(Decimal("NaN"), "monthly")


def test_round_cents_half_up() -> None:
    assert round_cents(Decimal("0.005")) == Decimal("0.01")
    assert round_cents(Decimal("0.0049")) == Decimal("0.00")
    assert round_cents(Decimal("1.125")) == Decimal("1.13")
