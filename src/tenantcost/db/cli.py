"""CLI for the database: embedded server, migrations, verification."""

from __future__ import annotations

import typer

app = typer.Typer(help="Database: embedded server, migrations, verify.", no_args_is_help=True)
