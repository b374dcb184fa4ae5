"""Command-line options several commands share, spelled and explained once."""

from __future__ import annotations

import typer

from tenantcost.output import OutputFormat

FORMAT = typer.Option(OutputFormat.table, "--format", help="table, json or csv.")
MONTH = typer.Option(
    None, "--month", help="UTC month YYYY-MM (default: the latest attributed month)."
)
