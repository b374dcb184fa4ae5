"""The strict parser every CLI amount goes through (issue 13: -0, 1_000, 1e-400 accepted)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenantcost.errors import UserError
from tenantcost.numbers import parse_decimal, parse_integer

MAX = Decimal("9999.99")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4.99", Decimal("4.99")),
        ("0", Decimal(0)),
        (" 12.5 ", Decimal("12.5")),
        ("007", Decimal(7)),
    ],
)
def test_plain_amounts_are_read_exactly(text: str, expected: Decimal) -> None:
    assert parse_decimal(text, what="x", maximum=MAX, places=2) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-0", "is negative"),
        ("-3", "is negative"),
        ("1_000", "not a number written as plain digits"),
        ("1e-400", "not a number written as plain digits"),
        ("1E3", "not a number written as plain digits"),
        ("NaN", "not a number written as plain digits"),
        ("Infinity", "not a number written as plain digits"),
        ("1,000", "not a number written as plain digits"),
        ("$5", "not a number written as plain digits"),
        ("+5", "not a number written as plain digits"),
        ("٣", "not a number written as plain digits"),  # Arabic-Indic 3: Decimal() takes it
        ("5.", "not a number written as plain digits"),
        (".5", "not a number written as plain digits"),
        ("", "not a number written as plain digits"),
        ("1\x00", "not a number written as plain digits"),
        ("4.999", "more than 2 decimals"),
        ("10000", "above the largest allowed 9999.99"),
        ("9" * 400, "too large"),
    ],
)
def test_odd_amounts_are_refused_with_one_message(text: str, message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_decimal(text, what="--price", maximum=MAX, places=2)
    assert caught.value.message.startswith("--price: ")
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_trailing_zeros_do_not_count_as_decimals() -> None:
    assert parse_decimal("4.9900", what="x", maximum=MAX, places=2) == Decimal("4.99")


@pytest.mark.parametrize(
    ("text", "message"),
    [("-0", "negative"), ("1_000", "whole number"), ("1.0", "whole number"), ("0", "below")],
)
def test_integers_are_strict_too(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_integer(text, what="--limit", minimum=1, maximum=100)
    assert parse_integer(" 42 ", what="--limit", minimum=1, maximum=100) == 42
