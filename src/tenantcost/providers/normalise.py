"""Turn a Hostwinds price for a billing cycle into a monthly USD amount (pure functions).

A VPS billed annually at 107.88 costs 107.88 / 12 = 8.99 per month. Division happens on the
exact Decimal; only the result is rounded, ROUND_HALF_UP to cents, because the stored column
(``vps_instances.approximate_cost``) is ``numeric(8,2)``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from tenantcost.errors import UserError

CENT = Decimal("0.01")
#: No VPS costs a trillion dollars a month; above this a price cannot even be rounded to
#: cents in 28 significant digits, so it is refused before rounding (``1e30`` from the API).
ABSURD_MONTHLY = Decimal(10) ** 12

#: Months in each Hostwinds billing cycle (REFERENCE.md, "Hostwinds Cloud API").
CYCLE_MONTHS: dict[str, int] = {
    "monthly": 1,
    "quarterly": 3,
    "semiannually": 6,
    "annually": 12,
    "biennially": 24,
    "triennially": 36,
}


def cycle_months(cycle: str | None) -> int:
    """Months covered by one payment in ``cycle``; UserError for anything else (incl. hourly)."""
    key = (cycle or "").strip().lower()
    if key in CYCLE_MONTHS:
        return CYCLE_MONTHS[key]
    known = ", ".join(CYCLE_MONTHS)
    if key == "hourly":
        raise UserError(
            "billing cycle 'hourly' has no fixed monthly price",
            f"set vps_instances.billing_cycle to one of: {known}, or set a cost override",
        )
    raise UserError(
        f"unknown billing cycle {cycle!r}",
        f"set vps_instances.billing_cycle to one of: {known}",
    )


def round_cents(amount: Decimal) -> Decimal:
    """Round to cents, half up (2.345 -> 2.35)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def monthly_cost(price: Decimal, cycle: str | None) -> Decimal:
    """The monthly equivalent of ``price`` paid once per ``cycle``, rounded half up to cents."""
    if not isinstance(price, Decimal) or not price.is_finite():
        raise UserError(
            f"price {price!r} is not a finite decimal amount", "check the Hostwinds price list"
        )
    if price < 0:
        raise UserError(
            f"price {price} for billing cycle {cycle!r} is negative (cycle not offered)",
            "pick a billing cycle this plan offers, or set a cost override",
        )
    monthly = price / cycle_months(cycle)
    if monthly >= ABSURD_MONTHLY:
        raise UserError(
            f"price {price} for billing cycle {cycle!r} is implausible (not a VPS price)",
            "check the Hostwinds price list, or set a cost override",
        )
    return round_cents(monthly)


def implausible(monthly: Decimal, low: Decimal, high: Decimal) -> str | None:
    """Why a monthly VPS price outside ``[low, high]`` is refused, or None when it is in."""
    if monthly < low:
        return f"monthly price {monthly} is below the plausible minimum {low}"
    if monthly > high:
        return f"monthly price {monthly} is above the plausible maximum {high}"
    return None
