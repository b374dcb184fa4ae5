"""CLI for the demo fleet and the main job."""

from __future__ import annotations

import typer

app = typer.Typer(help="Demo fleet and the main job.", no_args_is_help=True)
