"""``tenantcost outbox``: deliver queued events, list them, try given-up ones again."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from tenantcost.config import get_settings
from tenantcost.db.connect import connect
from tenantcost.errors import UserError
from tenantcost.numbers import parse_integer
from tenantcost.outbox.drain import drain
from tenantcost.outbox.sinks import configured_sinks, sink_names
from tenantcost.outbox.store import list_events, retry
from tenantcost.output import OutputFormat, emit

app = typer.Typer(
    help="The outbox: tier decisions and alerts (and later other events) waiting for delivery "
    "to a sink such as the webhook, retried with backoff.",
    no_args_is_help=True,
)
err = Console(stderr=True)
FORMAT = typer.Option(OutputFormat.table, "--format", help="table, json or csv.")
SINK = typer.Option(None, "--sink", help="Only this sink (e.g. webhook).")


def _sink(name: str | None) -> str | None:
    if name is not None and name not in sink_names():
        raise UserError(f"no outbox sink {name!r}", f"use one of: {', '.join(sink_names())}")
    return name


@app.command("drain")
def drain_command(
    sink: str | None = SINK,
    limit: str = typer.Option(
        None, "--limit", help="Attempt at most this many events (default: the drain setting)."
    ),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Attempt every due event once (oldest first); failures wait with exponential backoff.

    Exit code 1 when an attempt failed (the event stays queued), 0 otherwise. Safe to run
    beside `serve` or `collect --every`: an event is never sent by two drains at once.
    """
    settings = get_settings()
    only = _sink(sink)
    most = (
        settings.outbox_drain_limit
        if limit is None
        else parse_integer(limit, what="--limit", minimum=1, maximum=100_000, example="100")
    )
    sinks = configured_sinks(settings, only)
    if not sinks:
        err.print(
            "no outbox sink is configured (set TENANTCOST_WEBHOOK_URL and "
            "TENANTCOST_WEBHOOK_SECRET for the webhook); queued events wait",
            highlight=False,
        )
    with connect(autocommit=True) as conn:
        report = drain(
            conn,
            sinks,
            limit=most,
            backoff_base=settings.outbox_backoff_seconds,
            backoff_cap=settings.outbox_backoff_max_seconds,
        )
    emit([report.summary_row()], fmt, title="outbox drain")
    for line in report.errors[:20]:
        err.print(f"[yellow]failed:[/] {escape(line)}", highlight=False)
    if report.failed:
        raise typer.Exit(1)


@app.command("list")
def list_command(
    all_: bool = typer.Option(False, "--all", help="Also delivered events (newest first)."),
    sink: str | None = SINK,
    limit: str = typer.Option("100", "--limit", help="At most this many rows."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Events still waiting (pending or given up), newest first, with attempts and last error."""
    most = parse_integer(limit, what="--limit", minimum=1, maximum=100_000, example="100")
    with connect() as conn:
        rows = list_events(conn, include_delivered=all_, sink=_sink(sink), limit=most)
    emit(rows, fmt, title="outbox" + ("" if all_ else " (waiting)"))


@app.command("retry")
def retry_command(
    event_id: str = typer.Option(None, "--id", help="Only this event (see `outbox list`)."),
    sink: str | None = SINK,
) -> None:
    """Make waiting and given-up events due now, with their attempts counted from 0 again."""
    chosen = (
        None
        if event_id is None
        else parse_integer(event_id, what="--id", minimum=1, maximum=2**63 - 1, example="42")
    )
    with connect() as conn:
        count = retry(conn, event_id=chosen, sink=_sink(sink))
    err.print(f"{count} event(s) due now; run `tenantcost outbox drain`", highlight=False)
