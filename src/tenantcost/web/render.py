"""Presentation helpers shared by pages, API and reports: JSON-safe values, CSV, formats."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from tenantcost.output import render_csv

MACHINE_SCALE = Decimal("0.000001")  # money in the API: 6 decimals, never an exponent


def decimal_text(value: Decimal) -> str:
    """A plain decimal string with exactly 6 decimals, the API's one scale for every Decimal
    (half up), never scientific notation (``1E-8`` prints as ``0.000000``)."""
    return f"{value.quantize(MACHINE_SCALE, rounding=ROUND_HALF_UP):f}"


def jsonable(value: Any) -> Any:
    """Decimals (money) and UUIDs as strings, times as ISO 8601; containers recursively."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    return render_csv(rows, columns)


def csv_lines(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], batch: int = 2000
) -> Iterator[str]:
    """The same CSV as ``csv_text``, streamed: the header, then ``batch`` rows at a time."""
    yield render_csv([], columns)
    chunk: list[Mapping[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == batch:
            yield render_csv(chunk, columns).split("\n", 1)[1]
            chunk = []
    if chunk:
        yield render_csv(chunk, columns).split("\n", 1)[1]


def fmt_money(value: Any, places: int = 2) -> str:
    """$1,234.56 (half up); negative as −$12.00; blank for None."""
    if value is None or value == "":
        return ""
    amount = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "−" if amount < 0 else ""
    return f"{sign}${abs(amount):,.{places}f}"


def fmt_pct(value: Any) -> str:
    if value is None or value == "":
        return "n/a"
    return f"{Decimal(value):,.1f}%"


def fmt_cell(column: str, value: Any) -> str:
    """A table cell as text, money columns as dollars; a ratio or percent with nothing to
    divide by is n/a."""
    if value is None:
        words = set(column.split("_"))
        return "n/a" if words & {"ratio", "pct", "email"} else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        words = set(column.split("_"))
        if {"per", "email"} <= words:
            return fmt_money(value, 4)
        if words & {"ratio", "score", "pct", "count"}:
            return str(value)
        if words & {"cost", "costs", "revenue", "profit", "opportunity", "amount", "price"}:
            return fmt_money(value)
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
