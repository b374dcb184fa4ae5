"""``tenantcost costs sync-vps`` and ``tenantcost costs reconcile`` (registered in costs/cli.py).

Table output: a summary (changed / unchanged / overridden / failed, total monthly delta) and the
changed and failed instances. JSON / CSV output: one row per instance (every status) on stdout,
the summary on stderr. Exit code 1 when any instance failed (its stored value is unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import tenantcost.report as reporting  # the rollup module (psycopg) loads on first refresh
from tenantcost.config import get_settings
from tenantcost.db.connect import connect
from tenantcost.errors import UserError
from tenantcost.output import OutputFormat, emit, render_json

if TYPE_CHECKING:
    from tenantcost.costs.sync import SyncReport

SUMMARY_COLUMNS = [
    "changed",
    "unchanged",
    "overridden",
    "failed",
    "unlinked",
    "total_monthly_delta",
    "dry_run",
]
DETAIL_COLUMNS = [
    "name",
    "service_id",
    "status",
    "old_monthly",
    "new_monthly",
    "delta",
    "basis",
    "reason",
]


DRY_RUN = typer.Option(
    False, "--dry-run", help="Fetch prices and show what would change; write nothing."
)
ALLOW_UPGRADE_ORDERS = typer.Option(
    False,
    "--allow-upgrade-orders",
    help="Price custom configurations through upgrade_instance, which PLACES an upgrade "
    "order and invoice at Hostwinds. Without it those VPS are reported as failed.",
)
FORMAT = typer.Option(
    OutputFormat.table, "--format", help="table, json or csv (json/csv: one row per VPS)."
)


@contextmanager
def _progress_bar(title: str) -> Iterator[Callable[[int, int, str], None]]:
    """A rich progress bar on stderr while prices are fetched (hidden when not a terminal)."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[label]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(title, total=None, label="")

        def update(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, label=label)

        yield update


def show_report(report: SyncReport, fmt: OutputFormat, title: str) -> None:
    """Print the report; raise typer.Exit(1) when any instance failed."""
    summary = report.summary_row()
    if fmt is OutputFormat.table:
        heading = f"{title} (dry run: nothing written)" if report.dry_run else title
        emit([summary], fmt, columns=SUMMARY_COLUMNS, title=heading)
        details = report.instance_rows(["changed"]) + report.instance_rows(["failed"])
        if details:
            emit(details, fmt, columns=DETAIL_COLUMNS, title="changed and failed instances")
    else:
        emit(report.instance_rows(), fmt, columns=["id", *DETAIL_COLUMNS])
        Console(stderr=True).print(render_json([summary]), highlight=False, soft_wrap=True)
    if report.aborted:
        Console(stderr=True).print(
            f"[bold red]{len(report.failed)} instance(s) failed[/]: Hostwinds failed "
            f"({escape(report.aborted)}). Nothing was written: every stored cost is as it "
            "was. Run again when Hostwinds answers.",
            highlight=False,
        )
        raise typer.Exit(1)
    if not report.ok:
        Console(stderr=True).print(
            f"[bold red]{len(report.failed)} instance(s) failed[/]; their stored costs are "
            "unchanged. Fix the reasons above and run again.",
            highlight=False,
        )
        raise typer.Exit(1)


def _bounds() -> tuple[Decimal, Decimal]:
    """The plausible monthly price range from the settings (refused outside it)."""
    settings = get_settings()
    low, high = settings.hostwinds_min_monthly, settings.hostwinds_max_monthly
    if low > high:
        raise UserError(
            f"TENANTCOST_HOSTWINDS_MIN_MONTHLY {low} is above TENANTCOST_HOSTWINDS_MAX_MONTHLY "
            f"{high}",
            "set the minimum below the maximum",
        )
    return low, high


def sync_vps_command(
    instance: str | None = typer.Option(
        None,
        "--instance",
        help="One VPS to price: its id (uuid), name or Hostwinds service id.",
    ),
    all_: bool = typer.Option(
        False, "--all", help="Price every VPS that has a hostwinds_service_id."
    ),
    dry_run: bool = DRY_RUN,
    allow_upgrade_orders: bool = ALLOW_UPGRADE_ORDERS,
    fmt: OutputFormat = FORMAT,
) -> None:
    """Price VPS instances from the Hostwinds API and store their monthly cost.

    For each VPS (plan x billing cycle, or a custom configuration via an upgrade quote) the
    price is normalised to USD per month. Only changed values are written, all in one
    transaction, each with an audit row; records with a Finance override are skipped. If
    Hostwinds cannot be reached nothing stored changes and the exit code is 1.
    Needs TENANTCOST_HOSTWINDS_API_KEY.
    """
    if instance is None and not all_:
        raise UserError("say which VPS to sync", "pass --instance ID or --all")
    if instance is not None and all_:
        raise UserError("--instance and --all exclude each other", "pass only one of them")
    from tenantcost.costs.sync import sync_vps
    from tenantcost.providers.hostwinds import HostwindsClient

    with (
        HostwindsClient.from_settings(allow_upgrade_orders=allow_upgrade_orders) as client,
        connect() as conn,
        _progress_bar("pricing VPS on Hostwinds") as progress,
    ):
        report = sync_vps(
            conn, client, instance, dry_run=dry_run, progress=progress, bounds=_bounds()
        )
        if report.changed and not dry_run:
            reporting.refresh_rollups(conn)
    show_report(report, fmt, "Hostwinds VPS sync")


def reconcile_command(
    dry_run: bool = DRY_RUN,
    allow_upgrade_orders: bool = ALLOW_UPGRADE_ORDERS,
    fmt: OutputFormat = FORMAT,
) -> None:
    """Monthly reconciliation: re-price every linked VPS against current Hostwinds prices.

    Same as `sync-vps --all` with audit reason 'monthly reconciliation'. Idempotent: run it
    twice and the second run changes nothing. Exit code 1 when any instance failed.
    """
    from tenantcost.costs.sync import reconcile
    from tenantcost.providers.hostwinds import HostwindsClient

    with (
        HostwindsClient.from_settings(allow_upgrade_orders=allow_upgrade_orders) as client,
        connect() as conn,
        _progress_bar("reconciling VPS costs with Hostwinds") as progress,
    ):
        report = reconcile(conn, client, dry_run=dry_run, progress=progress, bounds=_bounds())
        if report.changed and not dry_run:
            reporting.refresh_rollups(conn)
    show_report(report, fmt, "Hostwinds monthly reconciliation")
