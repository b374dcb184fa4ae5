"""Writing events into the outbox and reading its backlog (SQL in ``queries.sql``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries

_SINK_NAME = re.compile(r"[a-z][a-z0-9_]*")


def sql(name: str) -> str:
    return queries("tenantcost.outbox")[name]


def enqueue(conn: Connection, sink: str, dedupe_key: str, payload: Mapping[str, Any]) -> bool:
    """Record one event for ``sink`` in the caller's transaction; False when already there.

    ``payload`` must be JSON-serialisable (money as strings). Nothing is sent here.
    """
    from psycopg.types.json import Jsonb

    if not _SINK_NAME.fullmatch(sink):
        raise ValueError(f"sink name {sink!r} must be lower-case letters, digits and _")
    if not 1 <= len(dedupe_key) <= 200:
        raise ValueError("dedupe_key must be 1 to 200 characters")
    row = conn.execute(
        sql("enqueue"), {"sink": sink, "dedupe_key": dedupe_key, "payload": Jsonb(dict(payload))}
    ).fetchone()
    return row is not None


def backlog(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    """Per sink: pending, given_up, oldest_pending_seconds, failed_attempts (for /metrics)."""
    return conn.execute(*backlog_query(now)).fetchall()


def backlog_query(now: datetime) -> tuple[str, dict[str, Any]]:
    """(pure) ``backlog``'s statement and parameters (to send with others in one round trip)."""
    return sql("backlog"), {"now": now}


def list_events(
    conn: Connection, *, include_delivered: bool, sink: str | None, limit: int
) -> list[dict[str, Any]]:
    return conn.execute(
        sql("list"), {"all": include_delivered, "sink": sink, "limit": limit}
    ).fetchall()


def retry(conn: Connection, *, event_id: int | None, sink: str | None) -> int:
    """Make waiting and given-up events due now (attempts start again); how many."""
    with conn.transaction():
        return conn.execute(sql("retry"), {"id": event_id, "sink": sink}).rowcount
