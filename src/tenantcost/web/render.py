"""Presentation helpers shared by pages, API and reports: JSON-safe values, CSV, formats.

Every number becomes text in :mod:`tenantcost.money` and every CSV in
:func:`tenantcost.output.render_csv`, so the dashboard, the API, the FOCUS export and the CLI
print the same figures the same way (never exponent notation, formula-safe CSV).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tenantcost.money import is_money_column, money_text, number_text, percent_text
from tenantcost.output import machine_rows, machine_value, render_csv


def jsonable(value: Any) -> Any:
    """Decimals (money) and UUIDs as strings, times as ISO 8601; containers recursively.
    A list of rows (mappings) gets one scale per Decimal column, the same for every row."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, Mapping) for v in value):
            keys = list(dict.fromkeys(k for row in value for k in row))
            nested = [
                k for k in keys if any(isinstance(row.get(k), Mapping | list) for row in value)
            ]
            flat = machine_rows(value, keys)
            for row, source in zip(flat, value, strict=True):
                for k in nested:
                    row[k] = jsonable(source.get(k))
                for k in [k for k in keys if k not in source]:
                    del row[k]
            return flat
        return [jsonable(v) for v in value]
    return machine_value(value)


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A CSV download (dashboard tables, API, FOCUS export): header always, formula-safe."""
    return render_csv(rows, columns)


def fmt_money(value: Any, places: int = 2) -> str:
    """$1,234.56 (half up); negative as −$12.00; blank for None; <$0.01 below half a cent."""
    return money_text(value, places)


def fmt_pct(value: Any) -> str:
    return percent_text(value, 1)


def fmt_cell(column: str, value: Any) -> str:
    """A table cell as text, money columns as dollars."""
    if value is None:
        return ""
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
