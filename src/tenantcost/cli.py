"""The ``tenantcost`` command: one entry point, one sub-command group per responsibility."""

from __future__ import annotations

import sys
from typing import Any

import psycopg
import typer
from rich.console import Console
from typer.core import TyperGroup

from tenantcost import __version__
from tenantcost.attribution.cli import (
    attribute_command,
    cost_drivers_command,
    quality_command,
    tenant_costs_command,
)
from tenantcost.costs.cli import app as costs_app
from tenantcost.db.cli import app as db_app
from tenantcost.demo.cli import app as demo_app
from tenantcost.errors import UserError
from tenantcost.model.cli import app as model_app
from tenantcost.outbox.cli import app as outbox_app
from tenantcost.pricing.cli import app as pricebook_app
from tenantcost.report.cli import app as report_app
from tenantcost.settings_cli import settings_command
from tenantcost.telemetry.cli import collect_command, tenants_app
from tenantcost.tiers.cli import app as tiers_app
from tenantcost.web.report_send import send_command
from tenantcost.web.serve import serve_command
from tenantcost.web.users import app as users_app


class TenantcostGroup(TyperGroup):
    """Root command group: a UserError anywhere below becomes one message and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            report_user_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
            report_user_error(
                UserError(
                    f"the database lacks part of tenantcost's schema: {exc.diag.message_primary}",
                    "run `tenantcost db upgrade` (see `tenantcost db current`)",
                )
            )
            raise typer.Exit(UserError.exit_code) from None
        except psycopg.DataError as exc:
            # A value from the command line the database cannot take (NUL bytes, out of
            # range, not a valid uuid or date): the input's fault, so one line and exit 2.
            detail = exc.diag.message_primary or str(exc).strip().splitlines()[0]
            report_user_error(
                UserError(
                    f"the database refused a value given on the command line: {detail}",
                    "check the arguments (see the command's --help)",
                )
            )
            raise typer.Exit(UserError.exit_code) from None


def report_user_error(exc: UserError) -> None:
    err = Console(stderr=True)
    err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
    if exc.hint:
        err.print(f"  [bold]fix:[/] {exc.hint}", highlight=False)


app = typer.Typer(
    name="tenantcost",
    cls=TenantcostGroup,
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
app.add_typer(report_app, name="report")
app.add_typer(tenants_app, name="tenants")
app.add_typer(tiers_app, name="tiers")
app.add_typer(users_app, name="users")
app.add_typer(demo_app, name="demo")
app.add_typer(outbox_app, name="outbox")
app.command("serve")(serve_command)
report_app.command("send")(send_command)
app.command("collect")(collect_command)
app.command("attribute")(attribute_command)
report_app.command("tenant-costs")(tenant_costs_command)
report_app.command("cost-drivers")(cost_drivers_command)
report_app.command("quality")(quality_command)
app.command("settings")(settings_command)


def _version(value: bool) -> None:
    if value:
        print(f"tenantcost {__version__}")
        raise typer.Exit()


@app.callback(cls=TenantcostGroup)
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
    except UserError as exc:  # raised while reading settings, before any command runs
        report_user_error(exc)
        sys.exit(exc.exit_code)
