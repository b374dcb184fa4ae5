"""Presentation helpers shared by pages, API and reports: JSON-safe values, CSV, formats.

Every number becomes text in :mod:`tenantcost.money` and every CSV in
:func:`tenantcost.output.render_csv`, so the dashboard, the API, the FOCUS export and the CLI
print the same figures the same way (never exponent notation, formula-safe CSV).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tenantcost.money import is_money_column, money_text, number_text, percent_text, plain
from tenantcost.output import machine_value, render_csv

#: The API's one scale for every Decimal (money from the 12-decimal ledger included).
MACHINE_PLACES = 6


def decimal_text(value: Decimal) -> str:
    """A plain decimal string with exactly 6 decimals (half up), never exponent notation
    (``1E-8`` prints as ``0.000000``), never ``-0``."""
    return plain(value, MACHINE_PLACES)


def jsonable(value: Any) -> Any:
    """Decimals as plain strings with 6 decimals (so every column has one scale), UUIDs as
    strings, times as ISO 8601; containers recursively."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return decimal_text(value)
    return machine_value(value)


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A CSV download (dashboard tables, API, FOCUS export): header always, formula-safe."""
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
    """$1,234.56 (half up); negative as −$12.00; blank for None; <$0.01 below half a cent."""
    return money_text(value, places)


def fmt_pct(value: Any) -> str:
    return percent_text(value, 1)


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
        if is_money_column(column):
            return fmt_money(value)
        return (
            number_text(value)
            if words & {"ratio", "score", "pct", "count"}
            else str(machine_value(value))
        )
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
