"""CLI for tenantcost.model."""

from __future__ import annotations

import typer

app = typer.Typer(help="What-if pricing and capacity models over price books and scenario files (no database needed).", no_args_is_help=True)
