"""Generating reports: on schedule (the jobs runner) or by hand, once per (kind, period).

A run is recorded in ``report_runs`` and its deliveries queued in the outbox in ONE
transaction, so a report is either generated and queued or not at all; the unique
(kind, period_start) makes a second generation (a restart, two processes) a no-op. The
schedule's progress is the latest scheduled run of each kind (or when the scheduler first
saw the kind), so a restart resumes where it stopped and a missed period is generated once,
marked late, when the service comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from tenantcost.config import Settings, get_settings
from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.execreport.content import Rendered, report_values, sql
from tenantcost.execreport.schedule import DueReport, Kind, Period, due_reports
from tenantcost.execreport.sinks import CHANNEL_SINKS
from tenantcost.outbox.store import enqueue

log = logging.getLogger("tenantcost.execreport")

Clock = Callable[[], datetime]


def cron_of(settings: Settings, kind: Kind) -> str:
    return {
        Kind.daily: settings.report_daily_cron,
        Kind.weekly: settings.report_weekly_cron,
        Kind.monthly: settings.report_monthly_cron,
    }[kind]


@dataclass(frozen=True)
class Channel:
    name: str  # email | webhook | directory
    target: str  # for people: addresses, the URL's host, the directory (never a secret)
    extra: dict[str, Any]


def split_addresses(text: str | None) -> list[str]:
    return [a.strip() for a in (text or "").split(",") if a.strip()]


def channels(settings: Settings, to: list[str] | None = None) -> list[Channel]:
    """The configured deliveries; ``to`` (addresses) replaces TENANTCOST_REPORT_EMAIL_TO."""
    from urllib.parse import urlsplit

    found = []
    recipients = to if to else split_addresses(settings.report_email_to)
    if settings.smtp_host and recipients:
        found.append(Channel("email", ", ".join(recipients), {"to": recipients}))
    elif to:
        raise UserError("--to needs an SMTP server", "set TENANTCOST_SMTP_HOST")
    if settings.report_webhook_url:
        host = urlsplit(settings.report_webhook_url).hostname or "?"
        found.append(Channel("webhook", f"{settings.report_webhook_format} to {host}", {}))
    if settings.report_dir is not None:
        found.append(Channel("directory", str(settings.report_dir), {}))
    return found


@dataclass(frozen=True)
class Generated:
    run_id: int
    period: Period
    created: bool  # False: the period's run existed (scheduled: nothing was queued)
    queued: list[str]
    keys: list[str]  # the deliveries' dedupe keys (outbox and report_deliveries)


def generate(
    conn: Connection,
    period: Period,
    *,
    settings: Settings,
    trigger: str,
    due_at: datetime | None = None,
    late: bool = False,
    to: list[str] | None = None,
    requested_by: str | None = None,
    now: datetime | None = None,
) -> Generated | None:
    """Render the period's report and queue it for every configured channel.

    Scheduled (``trigger='schedule'``): nothing happens when the period's run exists (None).
    By hand (``'manual'``): the run is created if needed and the report queued again, as a
    new delivery of each channel. The report is rendered before the transaction."""
    moment = now or datetime.now(UTC)
    key = {"kind": period.kind.value, "start": period.start}
    existing = conn.execute(sql("find_run"), key).fetchone()
    if existing is not None and trigger == "schedule":
        return None
    chosen = channels(settings, to)
    values = report_values(conn, period, generated_at=moment, late=late)
    rendered = Rendered(values)
    payload = rendered.payload()
    with conn.transaction():
        row = conn.execute(
            sql("insert_run"),
            {
                **key,
                "end": period.end,
                "due_at": due_at,
                "trigger": trigger,
                "late": late,
                "month": values["month"],
                "provisional": values["provisional"],
                "summary": Jsonb(payload["summary"]),
                "generated_at": moment,
            },
        ).fetchone()
        if row is None:
            if trigger == "schedule":
                return None  # another process generated it meanwhile
            row = conn.execute(sql("find_run"), key).fetchone()
            assert row is not None
        run_id = int(row["id"])
        queued, keys = [], []
        for channel in chosen:
            base = f"report:{period.kind.value}:{period.label}:{channel.name}"
            dedupe_key = base
            if trigger == "manual":
                count = conn.execute(
                    sql("delivery_count"), {"run_id": run_id, "channel": channel.name}
                ).fetchone()
                dedupe_key = f"{base}:manual-{int(count['n']) + 1 if count else 1}"
            if conn.execute(
                sql("insert_delivery"),
                {
                    "run_id": run_id,
                    "channel": channel.name,
                    "target": channel.target,
                    "dedupe_key": dedupe_key,
                    "requested_by": requested_by,
                },
            ).fetchone():
                enqueue(conn, CHANNEL_SINKS[channel.name], dedupe_key, {**payload, **channel.extra})
                queued.append(channel.name)
                keys.append(dedupe_key)
    return Generated(run_id, period, existing is None, queued, keys)


NO_CHANNEL_HINT = (
    "set TENANTCOST_REPORT_EMAIL_TO with TENANTCOST_SMTP_HOST, TENANTCOST_REPORT_WEBHOOK_URL "
    "(and _SECRET), or TENANTCOST_REPORT_DIR"
)


def send_now(
    conn: Connection,
    settings: Settings,
    period: Period,
    *,
    requested_by: str,
    to: list[str] | None = None,
) -> list[dict[str, Any]]:
    """A report sent by hand (CLI, dashboard): generated (or re-sent) and queued for every
    configured channel, then one delivery attempt each right away; a failed one stays in
    the outbox for the jobs. Returns the deliveries with their status."""
    from tenantcost.outbox.drain import drain
    from tenantcost.outbox.sinks import configured_sinks

    if not channels(settings, to):
        raise UserError("no delivery channel is configured", NO_CHANNEL_HINT)
    made = generate(
        conn, period, settings=settings, trigger="manual", to=to, requested_by=requested_by
    )
    assert made is not None  # by hand, a run is always made or reused
    wanted = set(CHANNEL_SINKS.values())
    drain(
        conn,
        {n: s for n, s in configured_sinks(settings).items() if n in wanted},
        limit=len(made.keys) * 10 + 10,
        backoff_base=settings.outbox_backoff_seconds,
        backoff_cap=settings.outbox_backoff_max_seconds,
    )
    found = conn.execute(sql("deliveries"), {"keys": made.keys}).fetchall()
    return [{"kind": period.kind.value, "period": period.label, **r} for r in found]


def due_now(
    conn: Connection, settings: Settings, kind: Kind, now: datetime, *, anchor_here: bool = True
) -> list[DueReport]:
    """The kind's reports due between its last scheduled run (or when the scheduler first
    saw it) and ``now``. ``anchor_here``: the scheduler is looking (records ``now`` as its
    first sight of the kind); False for a read-only look (``report schedule``)."""
    expression = cron_of(settings, kind)
    if not expression:
        return []
    query = "anchor" if anchor_here else "anchor_read"
    anchor = conn.execute(sql(query), {"kind": kind.value, "now": now}).fetchone()
    last_row = conn.execute(sql("last_due"), {"kind": kind.value}).fetchone()
    last = anchor["anchored_at"] if anchor else now
    if last_row is not None and last_row["due_at"] is not None:
        last = max(last, last_row["due_at"])
    return due_reports(
        kind,
        expression,
        last,
        now,
        late_after=timedelta(minutes=settings.report_late_minutes),
        most=settings.report_catch_up,
    )


class ScheduledReports:
    """The jobs runner's ``scheduled_reports`` job: generate every due report (the drain
    job delivers them). ``clock`` is injectable so a test can run a week in a second."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or (lambda: datetime.now(UTC))

    def __call__(self, conn: Connection) -> list[Generated]:
        settings = get_settings()
        now = self.clock()
        done: list[Generated] = []
        for kind in Kind:
            for due in due_now(conn, settings, kind, now):
                try:
                    made = generate(
                        conn,
                        due.period,
                        settings=settings,
                        trigger="schedule",
                        due_at=due.due_at,
                        late=due.late,
                        now=now,
                    )
                except UserError as exc:  # e.g. no month attributed yet: try next time
                    log.warning(
                        "%s report %s not generated: %s", kind, due.period.label, exc.message
                    )
                    break
                if made is not None:
                    log.info(
                        "%s report %s generated%s; queued for %s",
                        kind,
                        due.period.label,
                        " (late)" if due.late else "",
                        ", ".join(made.queued) or "no channel (none configured)",
                    )
                    done.append(made)
        return done


def history(conn: Connection, kind: str | None, limit: int) -> list[dict[str, Any]]:
    return conn.execute(sql("history"), {"kind": kind, "limit": limit}).fetchall()
