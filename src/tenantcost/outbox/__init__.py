"""A persisted outbox: events recorded with what caused them, delivered later with retries.

Whoever records something another system must hear about (a tier decision, an alert; later
PostHog events and scheduled reports, issue 17) calls :func:`enqueue` in the SAME transaction,
so the event exists exactly when its cause does. A separate drain (``tenantcost outbox drain``,
a job in ``serve`` and in ``collect --every``) hands due events to their sink's deliver
function, one attempt each, with exponential backoff between attempts; nothing is sent on the
path that recorded the event. Delivery is at least once: a receiver dedupes on the event's
``dedupe_key`` (sent with every delivery). Sinks are a registry (:mod:`tenantcost.outbox.sinks`).
"""

from __future__ import annotations

from tenantcost.outbox.drain import DrainReport, backoff_seconds, drain
from tenantcost.outbox.sinks import (
    DeliveryFailed,
    OutboxEvent,
    Sink,
    configured_sinks,
    register_sink,
)
from tenantcost.outbox.store import backlog, enqueue

__all__ = [
    "DeliveryFailed",
    "DrainReport",
    "OutboxEvent",
    "Sink",
    "backlog",
    "backoff_seconds",
    "configured_sinks",
    "drain",
    "enqueue",
    "register_sink",
]
