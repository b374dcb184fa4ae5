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
    url = embedded_server().start(ensure_database=True)
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
    from tenantcost.verification import run_all

    results = run_all(database_url())
    emit([r.as_row() for r in results], fmt, title="migration verification")
    if any(r.status == "FAIL" for r in results):
        raise typer.Exit(1)


@app.command()
def distribute(
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Print the SQL and the blockers; change nothing (works without Citus too).",
    ),
    fmt: OutputFormat = typer.Option(
        OutputFormat.table, "--format", help="How the blockers print: table, json or csv."
    ),
) -> None:
    """Place tenantcost's tables on a Citus cluster: reference tables for plans, prices and
    shared infrastructure; companies and every tenant table distributed by tenant and
    co-located; the rest local on the coordinator.

    Reads the catalog first and lists every blocker (a key without tenant_id, rows without
    a tenant, triggers, policies with subqueries) with its fix; with any blocker nothing
    runs. Otherwise runs the plan in one transaction. See docs/citus.md.
    """
    from tenantcost.db import citus
    from tenantcost.db.connect import connect
    from tenantcost.errors import UserError

    with connect() as conn:
        facts = citus.read_facts(conn)
        if facts.citus_version is None and not dry_run:
            raise UserError(
                "the citus extension is not installed in this database",
                "install Citus on the coordinator (shared_preload_libraries = 'citus', "
                "CREATE EXTENSION citus, citus_add_node for each worker); "
                "`tenantcost db distribute --dry-run` shows the plan without it",
            )
        plan = citus.plan(facts)
        if dry_run:
            print("BEGIN;")
            for statement in plan.statements:
                print(f"{statement};")
            print("COMMIT;")
        if plan.blockers:
            emit(
                [b.as_row() for b in plan.blockers],
                fmt,
                title=f"{len(plan.blockers)} blocker(s): Citus would refuse or misrun these",
                console=console,
            )
            if dry_run:
                raise typer.Exit(1)
            raise UserError(
                f"not distributed: {len(plan.blockers)} blocker(s), listed above; nothing "
                "was changed",
                "fix each as its line says, then run `tenantcost db distribute` again "
                "(docs/citus.md)",
            )
        if dry_run:
            return
        citus.apply(conn, plan.statements)
    moved = sum(1 for p in plan.placements if p.kind != "local")
    console.print(f"distributed: {len(plan.statements)} statement(s), {moved} table(s) placed")
