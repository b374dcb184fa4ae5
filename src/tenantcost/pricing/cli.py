"""CLI for tenantcost.pricing."""

from __future__ import annotations

import typer

app = typer.Typer(help="Price books: versioned provider rates (per-second vCPU/RAM, storage, egress, plans).", no_args_is_help=True)
