"""Presentation rounding for model reports (the arithmetic itself is never rounded).

Whole-month and mix amounts are shown to the cent (ROUND_HALF_UP). Per-tenant components
and per-query costs are often tiny fractions of a cent, where rounding to cents would hide
the very magnitudes seed 002 got wrong, so amounts below $1 keep 4 significant digits.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


class Plain(Decimal):
    """A Decimal that prints without exponent (``0.0000003234``, never ``3.234E-7``)."""

    def __str__(self) -> str:
        return format(self, "f")


def cents(value: Decimal | None) -> Plain | None:
    """Money to the cent."""
    return None if value is None else Plain(value.quantize(CENT, rounding=ROUND_HALF_UP))


def small(value: Decimal | None, digits: int = 4) -> Plain | None:
    """Cents from $1 up; below $1, ``digits`` significant digits."""
    if value is None:
        return None
    if value == 0 or abs(value) >= 1:
        return cents(value)
    exponent = Decimal(1).scaleb(value.adjusted() - digits + 1)
    return Plain(value.quantize(exponent, rounding=ROUND_HALF_UP))


def percent(value: Decimal | None, places: int = 1) -> Plain | None:
    """A percentage to ``places`` decimals."""
    if value is None:
        return None
    return Plain(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def count(value: Decimal) -> Plain:
    """Tenant counts: whole when whole, else to 2 decimals."""
    if value == value.to_integral_value():
        return Plain(value.to_integral_value())
    return Plain(value.quantize(CENT, rounding=ROUND_HALF_UP))
