"""Money and numbers at the edge: the ONE place where a Decimal becomes text.

The ledger and every computation keep full precision; rounding happens here, once, for
presentation (ROUND_HALF_UP). Nothing here ever prints exponent notation: ``3.9168E-8``
becomes ``0.000000039168`` and ``Decimal("0E-6")`` becomes ``0.000000``.

- People: :func:`money_text` (``$1,234.57``, ``−$4.99``, ``<$0.01`` for a non-zero amount
  that rounds to zero) and :func:`number_text` (``1,234.5``).
- Machines (JSON, CSV, API): :func:`plain` (``1234.57``) with one scale per column, chosen by
  :func:`column_scale`.
- CSV cells: :func:`csv_safe` neutralises spreadsheet formulas (OWASP CSV injection).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

#: Words that make a Decimal column money (shown as dollars to people).
MONEY_WORDS = frozenset(
    {"cost", "costs", "revenue", "profit", "opportunity", "amount", "price", "payments", "delta"}
)
#: Words that make a column a ratio or score even when it also names money.
NOT_MONEY_WORDS = frozenset({"ratio", "score", "pct", "percent", "count", "share"})
MINUS = "−"  # U+2212: people read it as minus, not as a hyphen


def quantize(value: Decimal, places: int) -> Decimal:
    """``value`` rounded half-up to ``places`` decimals, without the 28-digit context limit."""
    if not value.is_finite():
        return value
    digits = max(28, value.adjusted() + places + 2)
    return value.quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=Context(prec=digits)
    )


def scale_of(value: Decimal) -> int:
    """Decimals the value carries as stored (``14.970000000000`` → 12, ``1E+2`` → 0)."""
    if not value.is_finite():
        return 0
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def column_scale(values: Iterable[Any], places: int | None = None) -> int | None:
    """The one scale a machine column uses for every row: ``places`` when the column declares
    it, else the largest scale among its Decimals (so no row loses a digit); None without
    Decimals."""
    if places is not None:
        return places
    scales = [scale_of(v) for v in values if isinstance(v, Decimal)]
    return max(scales) if scales else None


def plain(value: Decimal, places: int | None = None) -> str:
    """A plain decimal string for machines: never exponent notation, never ``-0``;
    ``places`` fixes the number of decimals (half up)."""
    if not value.is_finite():
        return str(value)  # NaN / Infinity: no digits to format
    if places is not None:
        value = quantize(value, places)
    text = f"{value:f}"
    return text[1:] if text.startswith("-") and value.is_zero() else text


def number_text(value: Decimal | int, places: int | None = None) -> str:
    """A number for people: thousands separated, ``places`` decimals (half up) or as stored."""
    if isinstance(value, int):
        return f"{value:,}"
    if not value.is_finite():
        return str(value)
    if places is not None:
        value = quantize(value, places)
    if value.is_zero():
        value = abs(value)
    text = f"{abs(value):,f}"
    return f"{MINUS}{text}" if value < 0 else text


def money_text(value: Any, places: int = 2, *, symbol: str = "$") -> str:
    """Money for people: ``$1,234.57`` (half up), ``−$4.99``, blank for None; a non-zero
    amount that would round to zero shows as ``<$0.01`` (``>−$0.01`` when negative)."""
    if value is None or value == "":
        return ""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    if not amount.is_finite():
        return str(amount)
    rounded = quantize(amount, places)
    if rounded.is_zero() and not amount.is_zero():
        smallest = plain(Decimal(1).scaleb(-places))
        return f"<{symbol}{smallest}" if amount > 0 else f">{MINUS}{symbol}{smallest}"
    sign = MINUS if rounded < 0 else ""
    return f"{sign}{symbol}{abs(rounded):,.{places}f}"


def percent_text(value: Any, places: int = 1) -> str:
    """``12.3%``; ``n/a`` when there is no figure (e.g. a margin without revenue)."""
    if value is None or value == "":
        return "n/a"
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return f"{number_text(amount, places)}%"


def is_money_column(column: str) -> bool:
    """Whether a column holds money, by the words in its name (``total_operational_cost``
    yes, ``gross_margin_ratio`` no)."""
    words = set(column.lower().split("_"))
    return bool(words & MONEY_WORDS) and not words & NOT_MONEY_WORDS


#: First characters a spreadsheet treats as a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """A *string* cell for CSV: one starting like a formula gets a leading single quote so a
    spreadsheet shows it as text. Numbers never pass through here."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
