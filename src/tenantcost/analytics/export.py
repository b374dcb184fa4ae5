"""Queue PostHog messages in the outbox (sink ``posthog``), continuing from per-kind watermarks.

Each run scans, per kind, from its watermark (how far the last run scanned) minus :data:`LOOKBACK` (tier evaluations of past
hours and late attribution arrive after the fact) — or from ``--since`` — and queues every
message whose key the outbox does not hold yet, in ONE transaction with the watermarks: a run
killed half-way queued nothing, and a re-run queues nothing twice. The outbox drain then sends
each message at least once, with the same uuid every time (PostHog keeps one).

Kinds that describe the present (tenant groups, optimization opportunities) are keyed by the
UTC day, so they are sent once a day; abuse groups are keyed by their members, so a group is
sent again only when it changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tenantcost.analytics import events
from tenantcost.analytics.events import Message
from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.outbox.store import enqueue

SINK = "posthog"
#: How far behind its watermark each run looks again (deduplicated by the outbox key).
LOOKBACK = timedelta(days=7)
#: Where the first run of a kind starts when no --since is given.
FIRST_RUN = timedelta(days=7)


def sql(name: str) -> str:
    return queries("tenantcost.analytics")[name]


@dataclass
class ExportReport:
    """Per kind: messages found in the scanned window, of which new (queued, or for a dry run
    to be queued), and the watermark after the run."""

    found: dict[str, int] = field(default_factory=dict)
    new: dict[str, list[Message]] = field(default_factory=dict)
    through: dict[str, datetime | None] = field(default_factory=dict)
    since: dict[str, datetime] = field(default_factory=dict)
    latest: dict[str, datetime | None] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        return sum(len(m) for m in self.new.values())

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": kind,
                "event": events.EVENTS[kind],
                "scanned_since": self.since.get(kind),
                "found": self.found.get(kind, 0),
                "new": len(self.new.get(kind, [])),
                "already_queued": self.found.get(kind, 0) - len(self.new.get(kind, [])),
                "latest_event": self.latest.get(kind),
                "watermark": self.through.get(kind),
            }
            for kind in events.KINDS
        ]


def watermarks(conn: Connection) -> dict[str, dict[str, Any]]:
    return {r["kind"]: r for r in conn.execute(sql("watermarks")).fetchall()}


def last_run(conn: Connection) -> datetime | None:
    """When the kind exported longest ago last ran (None: some kind never ran)."""
    marks = watermarks(conn)
    if any(kind not in marks for kind in events.KINDS):
        return None
    row = conn.execute(sql("last_run")).fetchone()
    return None if row is None else row["last_run_at"]


def _start(
    kind: str, marks: Mapping[str, Mapping[str, Any]], since: datetime | None, now: datetime
) -> datetime:
    if since is not None:
        return since
    if kind in marks:
        through: datetime = marks[kind]["through"]
        return through - LOOKBACK
    return now - FIRST_RUN


def build(
    conn: Connection, *, now: datetime, since: datetime | None = None
) -> dict[str, tuple[datetime, list[Message]]]:
    """Every message of the scanned windows, per kind, with where each scan started."""
    marks = watermarks(conn)
    start = {kind: _start(kind, marks, since, now) for kind in events.KINDS}
    found: dict[str, list[Message]] = {}
    found["tier_decision"] = [
        events.tier_decision(r)
        for r in conn.execute(sql("decisions"), {"since": start["tier_decision"]}).fetchall()
    ]
    found["alert_opened"] = [
        events.alert(r, closed=False)
        for r in conn.execute(sql("alerts_opened"), {"since": start["alert_opened"]}).fetchall()
    ]
    found["alert_closed"] = [
        events.alert(r, closed=True)
        for r in conn.execute(sql("alerts_closed"), {"since": start["alert_closed"]}).fetchall()
    ]
    found.update(_present(conn, now))
    found["daily_cost"] = _daily(conn, start["daily_cost"], now)
    return {kind: (start[kind], found.get(kind, [])) for kind in events.KINDS}


def _present(conn: Connection, now: datetime) -> dict[str, list[Message]]:
    """Tenant groups, optimization opportunities and abuse groups as of now, for the month
    every surface shows by default."""
    from tenantcost.report.reports import run_report
    from tenantcost.report.rollup import latest_period
    from tenantcost.tiers.store import sql as tier_sql

    today = now.astimezone(UTC).date()
    period = latest_period(conn)
    out: dict[str, list[Message]] = {"tenant_group": [], "optimization": [], "abuse_group": []}
    if period is not None:
        info = conn.execute(sql("period"), {"period": period}).fetchone()
        if info is not None:
            status, covered = info["status"], info["covered_until"]
            out["tenant_group"] = [
                events.tenant_group(r, status=status, covered_until=covered, day=today, now=now)
                for r in conn.execute(sql("figures"), {"period": period}).fetchall()
            ]
            out["optimization"] = [
                events.optimization(r, period=period, status=status, day=today, now=now)
                for r in run_report(conn, "optimization", period)
            ]
    setting = conn.execute(sql("setting"), {"key": "free_abuse_threshold"}).fetchone()
    threshold = int(setting["value"]) if setting else 3
    out["abuse_group"] = [
        events.abuse_group(r, period=period, now=now)
        for r in conn.execute(tier_sql("free_abuse"), {"threshold": threshold}).fetchall()
    ]
    return out


def _daily(conn: Connection, start: datetime, now: datetime) -> list[Message]:
    first: date = start.astimezone(UTC).date()
    last: date = now.astimezone(UTC).date() - timedelta(days=1)
    if last < first:
        return []
    rows = conn.execute(sql("daily_costs"), {"first": first, "last": last}).fetchall()
    return [events.daily_cost(r) for r in rows]


def _already(conn: Connection, messages: Iterable[Message]) -> set[str]:
    keys = [m.key for m in messages]
    if not keys:
        return set()
    rows = conn.execute(sql("queued_keys"), {"keys": keys}).fetchall()
    return {r["dedupe_key"] for r in rows}


def export(
    conn: Connection,
    *,
    since: datetime | None = None,
    dry_run: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ExportReport:
    """Queue what is new (or, ``dry_run``, only say what would be); one transaction."""
    now = clock()
    report = ExportReport()
    with conn.transaction():
        scanned = build(conn, now=now, since=since)
        every = [m for _start, messages in scanned.values() for m in messages]
        known = _already(conn, every)
        marks = watermarks(conn)
        for kind, (start, messages) in scanned.items():
            fresh = _unique(m for m in messages if m.key not in known)
            report.since[kind] = start
            report.found[kind] = len(_unique(messages))
            report.new[kind] = fresh
            previous = marks.get(kind, {}).get("through")
            latest = max((m.timestamp for m in fresh), default=None)
            report.latest[kind] = latest
            # Scanned through now (late arrivals are what LOOKBACK is for).
            report.through[kind] = max(t for t in (previous, latest, now) if t is not None)
            if dry_run:
                report.through[kind] = previous
                continue
            queued = sum(enqueue(conn, SINK, m.key, m.payload) for m in fresh)
            conn.execute(
                sql("watermark_upsert"),
                {"kind": kind, "through": report.through[kind], "now": now, "enqueued": queued},
            )
    return report


def _unique(messages: Iterable[Message]) -> list[Message]:
    seen: set[str] = set()
    out = []
    for m in messages:
        if m.key not in seen:
            seen.add(m.key)
            out.append(m)
    return out


def dry_run_rows(report: ExportReport) -> Sequence[dict[str, Any]]:
    return [m.row() for kind in events.KINDS for m in report.new.get(kind, [])]
