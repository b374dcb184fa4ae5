"""``tenantcost costs``: the IP cost constant, per-record overrides, Hostwinds sync."""

from __future__ import annotations

import typer
from rich.console import Console

import tenantcost.report as reporting  # the rollup module (psycopg) loads on first refresh
from tenantcost.costs import store
from tenantcost.costs.sync_cli import reconcile_command, sync_vps_command
from tenantcost.db.connect import connect
from tenantcost.output import OutputFormat, emit

app = typer.Typer(
    help="Cost inputs: the audited IP cost constant, per-record overrides, Hostwinds sync.",
    no_args_is_help=True,
)
console = Console(stderr=True)

REASON = typer.Option(..., "--reason", help="Why (kept in the audit trail).")
KIND = typer.Argument(..., help="vps or ip.")


@app.command("set")
def set_(
    key: str = typer.Argument(..., help="Setting name, e.g. smtp_ip_monthly_cost."),
    value: str = typer.Argument(
        ...,
        help="New value: an amount like 5.49 (USD, at most 2 decimals), or for "
        "shared_cost_allocation one of none, even, emails_sent.",
    ),
    reason: str = REASON,
) -> None:
    """Change a cost setting; re-prices dependent records in the same transaction.

    Example: tenantcost costs set smtp_ip_monthly_cost 5.49 --reason "Hostwinds raised IP price".
    The dashboard's rollups are refreshed afterwards.
    """
    with connect() as conn:
        change = store.set_setting(conn, key, value, reason)
        reporting.refresh_rollups(conn)
    if change.old == change.new:
        console.print(f"{key} is already {change.new}; nothing changed")
    else:
        console.print(
            f"{key}: {change.old} → {change.new}; re-priced {change.repriced} IP(s) "
            "(records with a Finance override were left alone)"
        )


@app.command("settings")
def settings(
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """List the cost settings with their current values and last change."""
    with connect() as conn:
        emit(store.list_settings(conn), fmt, title="cost settings")


@app.command()
def override(
    kind: str = KIND,
    resource_id: str = typer.Argument(..., metavar="ID", help="The record's id."),
    amount: str = typer.Argument(..., help="Monthly USD, e.g. 120.00."),
    reason: str = REASON,
) -> None:
    """Set one VPS's or IP's monthly cost by hand; syncs and constant changes then skip it."""
    with connect() as conn:
        change = store.override_cost(conn, _kind(kind), resource_id, amount, reason)
        reporting.refresh_rollups(conn)
    console.print(f"{change.kind} {change.id}: {change.old} → {change.new} (override)")


@app.command("clear-override")
def clear_override(
    kind: str = KIND,
    resource_id: str = typer.Argument(..., metavar="ID", help="The record's id."),
    reason: str = REASON,
) -> None:
    """Return a record to automatic pricing (IPs take the constant at once; VPS at next sync)."""
    with connect() as conn:
        change = store.clear_override(conn, _kind(kind), resource_id, reason)
        reporting.refresh_rollups(conn)
    console.print(f"{change.kind} {change.id}: override cleared, cost now {change.new}")


def _kind(kind: str) -> store.ResourceKind:
    from tenantcost.errors import UserError

    if kind not in ("vps", "ip"):
        raise UserError(f"unknown resource kind {kind!r}", "use vps or ip")
    return "vps" if kind == "vps" else "ip"


app.command("sync-vps")(sync_vps_command)
app.command("reconcile")(reconcile_command)
