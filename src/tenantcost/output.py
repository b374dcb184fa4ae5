"""Render report rows as a Rich table (people), JSON or CSV (machines)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.table import Table


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


Row = Mapping[str, Any]


def to_text(value: Any) -> str:
    """One cell as text: Decimal keeps its exact digits, time is ISO 8601, None is empty."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def to_json_value(value: Any) -> Any:
    """Money (Decimal) goes out as a string so no consumer turns it into a float."""
    if isinstance(value, Decimal | UUID | datetime | date):
        return to_text(value)
    return value


def render_json(rows: Sequence[Row]) -> str:
    return json.dumps([{k: to_json_value(v) for k, v in row.items()} for row in rows], indent=2)


def render_csv(rows: Sequence[Row], columns: Sequence[str] | None = None) -> str:
    columns = list(columns or (rows[0].keys() if rows else []))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([to_text(row.get(c)) for c in columns])
    return buffer.getvalue()


def render_table(
    rows: Sequence[Row], columns: Sequence[str] | None = None, title: str = ""
) -> Table:
    columns = list(columns or (rows[0].keys() if rows else []))
    table = Table(title=title or None, show_lines=False)
    sample = rows[0] if rows else {}
    for column in columns:
        numeric = isinstance(sample.get(column), int | float | Decimal)
        table.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(to_text(row.get(c)) for c in columns))
    return table


def emit(
    rows: Sequence[Row],
    fmt: OutputFormat = OutputFormat.table,
    *,
    columns: Sequence[str] | None = None,
    title: str = "",
    console: Console | None = None,
) -> None:
    """Print rows in the chosen format; JSON and CSV go to stdout unstyled."""
    console = console or Console()
    if fmt is OutputFormat.json:
        print(render_json(rows))
    elif fmt is OutputFormat.csv:
        print(render_csv(rows, columns), end="")
    else:
        console.print(render_table(rows, columns, title))
