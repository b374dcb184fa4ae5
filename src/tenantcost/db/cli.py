"""``tenantcost db``: the embedded server, migrations, offline SQL and verification."""

from __future__ import annotations

from types import ModuleType

import typer
from rich.console import Console

from tenantcost.config import get_settings
from tenantcost.db.connect import database_url, embedded_server, redact
from tenantcost.output import OutputFormat, emit

app = typer.Typer(
    help="Database: embedded server, migrations (upgrade/downgrade/sql), verification.",
    no_args_is_help=True,
)
console = Console(stderr=True)

ROLLBACK_WARNING = (
    "Warning: Only use column removal as absolute last resort, as this will permanently lose "
    "business data. Prefer to set approximate_cost to 0.00 instead."
)


def _migrate() -> ModuleType:
    """Alembic loads only for the commands that migrate (not for start/stop/status/url)."""
    from tenantcost.db import migrate

    return migrate


def _require_embedded(command: str) -> None:
    if get_settings().database_url:
        console.print(
            f"[yellow]TENANTCOST_DATABASE_URL is set, so `db {command}` has nothing to manage; "
            "it only controls the embedded server.[/]"
        )
        raise typer.Exit(0)


@app.command()
def start() -> None:
    """Start the embedded PostgreSQL (created on first use in the per-user data directory)."""
    _require_embedded("start")
    url = embedded_server().start()
    console.print(f"embedded PostgreSQL running: {redact(url)}")


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL (its data stays for the next start)."""
    _require_embedded("stop")
    stopped = embedded_server().stop()
    console.print("stopped" if stopped else "was not running")


@app.command()
def status(
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """Show where the embedded server keeps its data, whether it runs, and its port."""
    settings = get_settings()
    if settings.database_url:
        emit([{"database": redact(settings.database_url), "managed": "external"}], fmt)
        return
    emit([embedded_server(settings).status()], fmt)


@app.command()
def url(
    show_password: bool = typer.Option(
        False, "--show-password", help="Print the password too (for psql and other tools)."
    ),
) -> None:
    """Print the connection URL tenantcost uses (starting the embedded server if needed)."""
    value = database_url()
    print(value if show_password else redact(value))


@app.command()
def upgrade(
    revision: str = typer.Argument("head", help="Target revision (default: head)."),
) -> None:
    """Apply migrations up to REVISION, one transaction per revision.

    Adopts an existing PenguinMails-style schema unchanged; a failed revision rolls back and
    leaves the database at the previous one.
    """
    target = database_url()
    _migrate().upgrade(target, revision)
    console.print(f"database at revision {_migrate().current_revision(target)}")


@app.command()
def downgrade(
    revision: str = typer.Argument(..., help="Target revision, e.g. 0004 or base."),
    drop_data: bool = typer.Option(
        False,
        "--drop-data",
        help="Also drop the approximate_cost columns and tenantcost's tables (loses data).",
    ),
) -> None:
    """Roll back to REVISION: views, indexes, constraints, policies and grants go.

    The approximate_cost columns and their data stay unless --drop-data is given
    (the seed's emergency rollback). The business tables are never dropped.
    """
    console.print(f"[yellow]{ROLLBACK_WARNING}[/]")
    target = database_url()
    _migrate().downgrade(target, revision, drop_data=drop_data)
    console.print(f"database at revision {_migrate().current_revision(target) or 'base'}")


@app.command()
def current() -> None:
    """Print the revision the database is at ('base' when tenantcost is not installed)."""
    print(_migrate().current_revision(database_url()) or "base")


@app.command()
def history(
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """List the migrations, oldest first."""
    emit(_migrate().history(), fmt, title="migrations")


@app.command("sql")
def sql(
    revision: str = typer.Argument("head", help="Upgrade target (default: head)."),
    downgrade_to: str = typer.Option(
        None, "--downgrade-to", help="Print the downgrade from REVISION to this one instead."
    ),
) -> None:
    """Print the exact SQL an upgrade would run, for a DBA to review. Touches no database."""
    print(_migrate().offline_sql(revision, downgrade_to=downgrade_to), end="")


@app.command("tenant-key")
def tenant_key(
    rotate: bool = typer.Option(
        False,
        "--rotate",
        help="Replace the key with a new random one first (every signed tenant token made "
        "with the old key stops working at once).",
    ),
) -> None:
    """Print the key (hex) that signs tenant sessions' app.current_tenant_id.

    Hand it to the tenant-facing application only (e.g. as a secret in its environment); it
    signs tokens with tenantcost.db.tenancy.set_tenant / tenant_token. Anyone holding it can
    act as any tenant. Needs the database owner or a db_administrators member.
    """
    from tenantcost.db.connect import connect
    from tenantcost.db.tenancy import read_key, rotate_key

    with connect() as conn:
        key = rotate_key(conn) if rotate else read_key(conn)
    if rotate:
        console.print("new tenant key installed; tokens signed with the old key no longer work")
    print(key.hex())


@app.command()
def verify(
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """Run the seed's migration verification as checks; exit 1 on any FAIL."""
    from tenantcost.db.verify import run_checks

    results = run_checks(database_url())
    emit([r.as_row() for r in results], fmt, title="migration verification")
    if any(r.status == "FAIL" for r in results):
        raise typer.Exit(1)
