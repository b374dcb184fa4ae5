"""One strict parser for every number a person types on the command line.

``Decimal(text)`` and ``int(text)`` accept far more than an amount: ``1_000``, ``-0``,
``1e-400``, ``NaN``, ``Infinity``, Arabic-Indic digits, surrounding whitespace and a sign.
A typo then slips through as a plausible value (``1e3`` for 13) or fails later with a
traceback. Here an amount is plain ASCII digits with at most one decimal point — nothing
else — and every problem is a :class:`~tenantcost.errors.UserError` naming the input, what
it accepts and an example.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from tenantcost.errors import UserError

N = TypeVar("N", int, Decimal)

# ASCII digits only: ``\d`` would accept any Unicode digit, which Decimal happily converts.
_PLAIN = re.compile(r"(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?")
_INTEGER = re.compile(r"[0-9]+")
#: What :func:`parse_decimal` accepts, as a JSON-schema pattern (the API's documentation).
PLAIN_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
#: More integer digits than any amount tenantcost stores (NUMERIC(12,2) and smaller).
MAX_INTEGER_DIGITS = 15
PLAIN_HINT = "write digits with an optional decimal point, e.g. {example} (no sign, exponent, "
PLAIN_HINT += "underscores or thousands separators)"


def _show(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return repr(shown)


def parse_decimal(
    text: str,
    *,
    what: str,
    maximum: Decimal,
    minimum: Decimal = Decimal(0),
    places: int | None = None,
    example: str = "4.99",
) -> Decimal:
    """``text`` as a non-negative Decimal in ``[minimum, maximum]``, or UserError.

    ``places``: the most decimals allowed (None: any). The value keeps the decimals typed
    (``4.9`` stays ``4.9``); callers that store cents quantize themselves.
    """
    hint = PLAIN_HINT.format(example=example)
    candidate = text.strip() if isinstance(text, str) else ""
    if candidate.startswith("-") and _PLAIN.fullmatch(candidate[1:]):
        raise UserError(f"{what}: {_show(text)} is negative", f"give 0 or more, e.g. {example}")
    match = _PLAIN.fullmatch(candidate)
    if match is None:
        raise UserError(f"{what}: {_show(text)} is not a number written as plain digits", hint)
    if len(match["int"].lstrip("0")) > MAX_INTEGER_DIGITS:
        raise UserError(f"{what}: {_show(text)} is too large", f"at most {maximum}")
    frac = match["frac"] or ""
    if places is not None and len(frac.rstrip("0")) > places:
        unit = "decimal" if places == 1 else "decimals"
        raise UserError(
            f"{what}: {_show(text)} has more than {places} {unit}",
            f"round it, e.g. {example}",
        )
    return _bounded(Decimal(candidate), what, minimum, maximum)


def parse_integer(
    text: str, *, what: str, maximum: int, minimum: int = 0, example: str = "6"
) -> int:
    """``text`` as a whole number in ``[minimum, maximum]`` (plain ASCII digits), or UserError."""
    candidate = text.strip() if isinstance(text, str) else ""
    if candidate.startswith("-") and _INTEGER.fullmatch(candidate[1:]):
        raise UserError(f"{what}: {_show(text)} is negative", f"give e.g. {example}")
    if not _INTEGER.fullmatch(candidate):
        raise UserError(
            f"{what}: {_show(text)} is not a whole number",
            f"write plain digits, e.g. {example}",
        )
    if len(candidate.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise UserError(f"{what}: {_show(text)} is too large", f"at most {maximum}")
    return _bounded(int(candidate), what, minimum, maximum)


def _bounded(value: N, what: str, minimum: N, maximum: N) -> N:
    if value > maximum:
        raise UserError(f"{what}: {value} is above the largest allowed {maximum}")
    if value < minimum:
        raise UserError(f"{what}: {value} is below the smallest allowed {minimum}")
    return value


def strict_int(option: str, minimum: int, maximum: int) -> Callable[[str | int | float], int]:
    """A typer ``parser=`` for a whole-number option: click's own INT takes ``1_000``, ``-0``
    and ``+5``; this refuses them with one message (exit 2)."""

    def parse(text: str | int | float) -> int:
        if isinstance(text, int | float) and not isinstance(text, bool) and text == int(text):
            text = str(int(text))  # the option's default (typer passes it through too)
        return parse_integer(str(text), what=option, minimum=minimum, maximum=maximum)

    return parse
