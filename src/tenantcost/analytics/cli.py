"""``tenantcost export posthog``: queue what is new for PostHog and deliver it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from tenantcost.config import Settings, get_settings
from tenantcost.db.connect import Connection, connect
from tenantcost.errors import UserError
from tenantcost.output import OutputFormat, emit

if TYPE_CHECKING:
    from tenantcost.outbox.drain import DrainReport

app = typer.Typer(
    help="Export tenantcost's figures and signals to other systems (PostHog analytics events).",
    no_args_is_help=True,
)
err = Console(stderr=True)
log = logging.getLogger("tenantcost.posthog")


@app.callback()
def export_group() -> None:
    """Export tenantcost's figures and signals to other systems (PostHog analytics events)."""


def parse_since(text: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO timestamp (UTC when it names no offset)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"--since {text!r} is not a date or timestamp",
            "use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC), e.g. --since 2026-11-01",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _require(settings: Settings) -> None:
    from tenantcost.analytics.sink import configured

    if not configured(settings):
        raise UserError(
            "PostHog is not configured",
            "set TENANTCOST_POSTHOG_HOST and TENANTCOST_POSTHOG_API_KEY "
            "(or use --dry-run to see what would be sent)",
        )


@app.command("posthog")
def posthog_command(
    since: str = typer.Option(
        None,
        "--since",
        help="Scan from this UTC date or time (YYYY-MM-DD or ISO) instead of each kind's "
        "watermark minus 7 days: a backfill. Events already queued are never queued again.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the events that would be queued; queue and send nothing."
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """Queue new PostHog events in the outbox and deliver them: tier decisions, alerts opened
    and closed, cost-optimisation opportunities, free-tier abuse groups, tenants as groups
    (once a day) and each tenant's daily cost and margin.

    Exit code 1 when a delivery attempt failed (the events wait in the outbox with backoff;
    `tenantcost outbox list --sink posthog`).
    """
    from tenantcost.analytics.export import dry_run_rows, export

    start = None if since is None else parse_since(since)
    settings = get_settings()
    if dry_run:
        with connect() as conn:
            report = export(conn, since=start, dry_run=True)
        emit(
            list(dry_run_rows(report)),
            fmt,
            columns=["kind", "event", "timestamp", "tenant_id", "uuid", "key"],
            title="PostHog export (dry run: nothing queued)",
            empty="nothing new to send",
            priority=("kind", "event", "timestamp", "tenant_id"),
        )
        return
    _require(settings)
    with connect(autocommit=True) as conn:
        report = export(conn, since=start)
        delivered = drain_posthog(conn, settings)
    emit(
        report.rows(),
        fmt,
        columns=[
            "kind",
            "event",
            "scanned_since",
            "found",
            "new",
            "already_queued",
            "latest_event",
            "watermark",
        ],
        title=f"PostHog export: {report.queued} queued, {delivered.delivered} delivered",
    )
    for line in delivered.errors[:20]:
        err.print(f"[yellow]failed:[/] {escape(line)}", highlight=False)
    if delivered.failed:
        raise typer.Exit(1)


def drain_posthog(conn: Connection, settings: Settings) -> DrainReport:
    """Deliver due PostHog events (only this sink), the outbox's limit and backoff."""
    from tenantcost.outbox.drain import drain_configured

    return drain_configured(conn, settings, only="posthog")


class PosthogJob:
    """The scheduled export (``serve``'s jobs, ``collect --every``): at most once per
    TENANTCOST_POSTHOG_INTERVAL (judged on the watermarks, so a restart does not export
    early), queue what is new, then deliver due PostHog events. Nothing unless configured."""

    def __init__(
        self, settings: Settings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.settings = settings
        self.clock = clock  # injected by tests that run a week of jobs in seconds

    def __call__(self, conn: Connection) -> str | None:
        from tenantcost.analytics.export import export, last_run
        from tenantcost.analytics.sink import configured

        if not configured(self.settings):
            return None
        previous = last_run(conn)
        now = self.clock()
        if (
            previous is not None
            and (now - previous).total_seconds() < self.settings.posthog_interval
        ):
            return None
        report = export(conn, clock=lambda: now)
        delivered = drain_posthog(conn, self.settings)
        summary = f"posthog: {report.queued} queued, {delivered.delivered} delivered" + (
            f", {delivered.failed} failed attempts (retried)" if delivered.failed else ""
        )
        log.info("%s", summary)
        return summary
