"""Signed webhook delivery for decisions and alerts.

Each POST carries JSON and two headers: ``X-Tenantcost-Timestamp`` (Unix seconds) and
``X-Tenantcost-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` with
the shared secret (the scheme Stripe and GitHub use, so receivers can reject replays by age).
Events are not sent by the evaluation: :func:`queue_events` records them in the outbox in
the evaluation's transaction, and the outbox drain (``tenantcost outbox drain``, ``serve``,
``collect --every``) POSTs each once per attempt, retrying with exponential backoff. Every
POST also carries ``X-Tenantcost-Event-Id`` (also in the signed body as ``event_id``), the
same on every retry, so a receiver can drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from tenantcost.config import Settings, get_settings
from tenantcost.db.connect import Connection, redact
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.outbox.sinks import DeliveryFailed, OutboxEvent, Sink
from tenantcost.outbox.store import enqueue

SIGNATURE_HEADER = "X-Tenantcost-Signature"
TIMESTAMP_HEADER = "X-Tenantcost-Timestamp"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    max_age_s: int = 300,
    now: float | None = None,
) -> bool:
    """What a receiver does: recompute, compare in constant time, reject stale messages."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - sent) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


EVENT_HEADER = "X-Tenantcost-Event-Id"
SINK = "webhook"


def post_once(url: str, secret: str, event: OutboxEvent, *, timeout: float = 5.0) -> None:
    """One signed POST of the event's payload; DeliveryFailed unless the receiver says 2xx.

    Retries are the outbox's (persisted, with backoff), never in here, so a dead receiver
    costs one timeout per drain, not seconds per signal.
    """
    body = encode(event.payload)
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: sign(secret, stamp, body),
        EVENT_HEADER: event.dedupe_key,
    }
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {redact(str(exc))}", sink_down=True) from None
    if not response.is_success:
        raise DeliveryFailed(f"HTTP {response.status_code}")


def webhook_sink(settings: Settings) -> Sink | None:
    """The ``webhook`` outbox sink, or None when TENANTCOST_WEBHOOK_URL is not set."""
    if not settings.webhook_url:
        return None
    if settings.webhook_secret is None:
        raise UserError(
            "TENANTCOST_WEBHOOK_URL is set without a secret", "set TENANTCOST_WEBHOOK_SECRET"
        )
    url, secret = settings.webhook_url, settings.webhook_secret.get_secret_value()
    timeout = settings.webhook_timeout

    def deliver(event: OutboxEvent) -> None:
        post_once(url, secret, event, timeout=timeout)

    return Sink(SINK, deliver, max_attempts=settings.webhook_retries, on_result=record_delivery)


def _sql(name: str) -> str:
    return queries("tenantcost.tiers", "webhook.sql")[name]


#: Outbox payload type -> the table whose ``delivery`` column shows the outcome.
_TABLES = {"tier_decision": "tier_decisions", "alert": "tier_alerts"}


def record_delivery(conn: Connection, event: OutboxEvent, error: str | None, last: bool) -> None:
    """Show the outcome on the decision or alert (``tiers decisions`` / ``tiers alerts``)."""
    table = _TABLES.get(str(event.payload.get("type")))
    if table is None or "id" not in event.payload:
        return
    if error is None:
        status = "delivered"
    else:
        status = (f"failed: {error}" if last else f"retrying: {error}")[:200]
    conn.execute(_sql(f"{table}_delivery"), {"id": int(event.payload["id"]), "delivery": status})


def queue_events(
    conn: Connection,
    decisions: Iterable[Mapping[str, Any]],
    alerts: Iterable[Mapping[str, Any]],
) -> int:
    """Record new decisions and alerts in the outbox, in the caller's transaction.

    Only when TENANTCOST_WEBHOOK_URL is set (unset: the log and the tables are the only
    delivery). Returns how many events were queued; ``tenantcost outbox drain`` sends them.
    """
    if not get_settings().webhook_url:
        return 0
    queued = 0
    for kind, items in (("tier_decision", decisions), ("alert", alerts)):
        for item in items:
            key = f"{kind}:{item['id']}"
            payload = {"type": kind, "event_id": key, **{k: str(v) for k, v in item.items()}}
            if enqueue(conn, SINK, key, payload):
                queued += 1
                table = _TABLES[kind]
                conn.execute(_sql(f"{table}_delivery"), {"id": item["id"], "delivery": "queued"})
    return queued
