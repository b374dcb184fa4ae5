"""CLI for cost inputs: the dedicated-IP constant, per-record overrides, provider sync."""

from __future__ import annotations

import typer

app = typer.Typer(help="Cost inputs: IP cost constant, overrides, Hostwinds sync.", no_args_is_help=True)
