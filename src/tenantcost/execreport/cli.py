"""``tenantcost report schedule`` and ``tenantcost report sent``: when the executive reports
go out, and what went out with each delivery's status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer

from tenantcost.config import get_settings
from tenantcost.numbers import parse_integer
from tenantcost.output import OutputFormat, emit

FORMAT = typer.Option(OutputFormat.table, "--format", help="table, json or csv.")


def schedule_command(
    count: str = typer.Option("3", "--next", help="How many upcoming times per report kind."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """The report schedule (cron, UTC): each kind's next times, the period each will cover,
    the last scheduled report and how many are due now, and where they are delivered."""
    from tenantcost.db.connect import connect
    from tenantcost.execreport.content import sql
    from tenantcost.execreport.run import channels, cron_of, due_now
    from tenantcost.execreport.schedule import (
        Kind,
        next_fire_times,
        period_before,
        period_containing,
    )

    most = parse_integer(count, what="--next", minimum=1, maximum=100, example="3")
    settings = get_settings()
    now = datetime.now(UTC)
    where = ", ".join(f"{c.name} ({c.target})" for c in channels(settings)) or "nowhere"
    rows = []
    with connect() as conn:
        for kind in Kind:
            expression = cron_of(settings, kind)
            last = conn.execute(sql("last_period"), {"kind": kind.value}).fetchone()
            due = len(due_now(conn, settings, kind, now, anchor_here=False)) if expression else 0
            base: dict[str, Any] = {
                "kind": kind.value,
                "cron_utc": expression or "off",
                "last_period": (
                    period_containing(kind, last["p"]).label if last and last["p"] else None
                ),
                "due_now": due,
                "delivered_to": where,
            }
            times = next_fire_times(expression, now, most) if expression else []
            if not times:
                rows.append({**base, "next_at": None, "covers": None})
            for moment in times:
                rows.append(
                    {**base, "next_at": moment, "covers": period_before(kind, moment).label}
                )
    emit(
        rows,
        fmt,
        columns=("kind", "cron_utc", "next_at", "covers", "last_period", "due_now", "delivered_to"),
        title="executive report schedule (UTC)",
        priority=("kind", "next_at", "covers"),
    )


def sent_command(
    kind: str | None = typer.Option(None, "--kind", help="Only daily, weekly or monthly."),
    limit: str = typer.Option("100", "--limit", help="At most this many rows."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Reports generated, newest period first: scheduled or by hand, late or on time, the
    month whose figures they show (provisional or final), and each delivery's status."""
    from tenantcost.db.connect import connect
    from tenantcost.errors import UserError
    from tenantcost.execreport.run import history
    from tenantcost.execreport.schedule import Kind, period_containing

    if kind is not None and kind not in {k.value for k in Kind}:
        raise UserError(f"--kind {kind!r} is not a report kind", "use daily, weekly or monthly")
    most = parse_integer(limit, what="--limit", minimum=1, maximum=100_000, example="100")
    with connect() as conn:
        found = history(conn, kind, most)
    rows = [
        {
            **r,
            "period": period_containing(Kind(r["kind"]), r["period_start"]).label,
            "figures": "provisional" if r["provisional"] else "final",
            "channel": r["channel"] or "none",
            "status": r["status"] or "not delivered (no channel configured)",
        }
        for r in found
    ]
    emit(
        rows,
        fmt,
        columns=(
            "kind",
            "period",
            "trigger",
            "late",
            "month",
            "figures",
            "generated_at",
            "channel",
            "target",
            "status",
            "updated_at",
        ),
        title="executive reports sent",
        empty="no report generated yet",
        priority=("kind", "period", "channel", "status"),
    )
