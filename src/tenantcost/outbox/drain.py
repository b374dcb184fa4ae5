"""Deliver due outbox events: one attempt each, exponential backoff between attempts.

Each event is claimed in its own transaction with ``FOR UPDATE SKIP LOCKED`` and stays locked
while its sink delivers it, so two drainers (``serve``'s job and a ``tenantcost outbox drain``)
never send the same event at the same time; the outcome commits with the claim. A process
killed after the receiver accepted an event but before the commit sends it again on the next
drain: delivery is at least once, and every delivery carries the event's ``dedupe_key``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tenantcost.config import Settings
from tenantcost.db.connect import Connection
from tenantcost.outbox.sinks import DeliveryFailed, OutboxEvent, Sink
from tenantcost.outbox.store import sql

log = logging.getLogger("tenantcost.outbox")


def backoff_seconds(failed_attempts: int, base: float, cap: float) -> float:
    """Wait after the n-th failed attempt: base, 2·base, 4·base, … at most ``cap``."""
    if failed_attempts < 1:
        return 0.0
    return float(min(cap, base * 2 ** min(failed_attempts - 1, 62)))


@dataclass
class DrainReport:
    delivered: int = 0
    failed: int = 0
    given_up: int = 0
    sinks_down: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary_row(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "failed_attempts": self.failed,
            "given_up": self.given_up,
            "sinks_down": ", ".join(self.sinks_down),
        }


def _event(row: Mapping[str, Any]) -> OutboxEvent:
    return OutboxEvent(
        id=row["id"],
        sink=row["sink"],
        dedupe_key=row["dedupe_key"],
        payload=row["payload"],
        created_at=row["created_at"],
        attempts=row["attempts"],
    )


def drain(
    conn: Connection,
    sinks: Mapping[str, Sink],
    *,
    limit: int = 100,
    backoff_base: float = 30.0,
    backoff_cap: float = 3600.0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DrainReport:
    """Attempt up to ``limit`` due events of the given sinks once each; never raises for a
    failing receiver. A sink reported down is skipped for the rest of this run."""
    report = DrainReport()
    active = dict(sinks)
    tried: list[int] = []  # failed in this run: not again, however short the backoff
    for _ in range(limit):
        if not active:
            break
        with conn.transaction():
            now = clock()
            row = conn.execute(
                sql("claim_next"), {"now": now, "sinks": list(active), "tried": tried}
            ).fetchone()
            if row is None:
                break
            event = _event(row)
            sink = active[event.sink]
            try:
                sink.deliver(event)
            except DeliveryFailed as exc:
                tried.append(event.id)  # a delivered event is out of the queue by itself
                _failed(conn, sink, event, exc, now, report, (backoff_base, backoff_cap))
                if exc.sink_down:
                    report.sinks_down.append(sink.name)
                    del active[sink.name]
            else:
                conn.execute(sql("mark_delivered"), {"id": event.id, "now": now})
                report.delivered += 1
                if sink.on_result is not None:
                    sink.on_result(conn, event, None, True)
    return report


def _failed(
    conn: Connection,
    sink: Sink,
    event: OutboxEvent,
    exc: DeliveryFailed,
    now: datetime,
    report: DrainReport,
    backoff: tuple[float, float],
) -> None:
    attempts = event.attempts + 1
    last = attempts >= sink.max_attempts
    wait = timedelta(seconds=backoff_seconds(attempts, *backoff))
    error = exc.message[:500]
    conn.execute(
        sql("mark_failed"),
        {"id": event.id, "error": error, "next_attempt_at": None if last else now + wait},
    )
    report.failed += 1
    if last:
        report.given_up += 1
        log.error(
            "outbox %s event %s given up after %d attempts: %s "
            "(`tenantcost outbox retry --id %s` tries again)",
            sink.name,
            event.dedupe_key,
            attempts,
            error,
            event.id,
        )
    else:
        log.warning(
            "outbox %s event %s attempt %d failed: %s; next in %.0fs",
            sink.name,
            event.dedupe_key,
            attempts,
            error,
            wait.total_seconds(),
        )
    report.errors.append(f"{sink.name} {event.dedupe_key}: {error}")
    if sink.on_result is not None:
        sink.on_result(conn, event, error, last)


def drain_configured(conn: Connection, settings: Settings, only: str | None = None) -> DrainReport:
    """One drain of every configured sink with the settings' limit and backoff (the jobs)."""
    from tenantcost.outbox.sinks import configured_sinks

    return drain(
        conn,
        configured_sinks(settings, only),
        limit=settings.outbox_drain_limit,
        backoff_base=settings.outbox_backoff_seconds,
        backoff_cap=settings.outbox_backoff_max_seconds,
    )
