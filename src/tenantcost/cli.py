"""The ``tenantcost`` command: one entry point, one sub-command group per responsibility."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from tenantcost import __version__
from tenantcost.costs.cli import app as costs_app
from tenantcost.db.cli import app as db_app
from tenantcost.demo.cli import app as demo_app
from tenantcost.errors import UserError
from tenantcost.model.cli import app as model_app
from tenantcost.pricing.cli import app as pricebook_app
from tenantcost.settings_cli import settings_command

app = typer.Typer(
    name="tenantcost",
    help=(
        "Per-tenant cost, revenue and margin for a multi-tenant SaaS on PostgreSQL. "
        "Internal tooling: figures are approximations for Finance and executives, never billing."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(db_app, name="db")
app.add_typer(costs_app, name="costs")
app.add_typer(pricebook_app, name="pricebook")
app.add_typer(model_app, name="model")
app.add_typer(demo_app, name="demo")
app.command("settings")(settings_command)


def _version(value: bool) -> None:
    if value:
        print(f"tenantcost {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Per-tenant cost, revenue and margin."""


def main() -> None:
    """Run the CLI; a UserError becomes one message on stderr and exit code 2."""
    try:
        app()
    except UserError as exc:
        err = Console(stderr=True)
        err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err.print(f"  [bold]fix:[/] {exc.hint}", highlight=False)
        sys.exit(exc.exit_code)
