"""Application tagging: count each tenant's queries where the application runs them.

For tenants that live in shared tables (a ``tenant_id`` column), PostgreSQL cannot tell
whose query it ran: ``pg_stat_statements`` keys on (database, role, queryid) and SQL
comments do not change the queryid. So the application says which tenant it is serving::

    from tenantcost.telemetry import Recorder, PostgresSink, tagged_connect, tenant

    recorder = Recorder(PostgresSink(TENANTCOST_URL))      # background flusher thread
    conn = tagged_connect(APP_URL, recorder)               # a psycopg 3 connection
    with tenant(company_id):
        conn.execute("SELECT … FROM orders WHERE tenant_id = %s", (company_id,))
    recorder.close()                                       # final flush

(or ``instrument_engine(engine, recorder)`` for SQLAlchemy). Per tenant and UTC hour it
counts queries, client-side execution time, rows, and result bytes (the wire size of the
result values, an estimate of egress). Counting is in memory under a short lock; a
background thread flushes batches to a sink. The application's query never waits for the
sink and never fails because of it: when the sink is down, batches wait in a bounded
buffer and the oldest are dropped past its limit — ``recorder.stats()`` reports how many.

Every flushed row carries an event id unique per recorder (``source_id``), and ingestion is
``ON CONFLICT DO NOTHING``: a batch re-sent after a lost acknowledgement counts once.

**Backend tag** (``tag_backend=True``, the default): so that the backend CPU sampler can
attribute a shared database's backends to tenants, the connection's ``application_name``
carries ``tc:<tenant uuid>`` (after the application's own name, cut to fit PostgreSQL's 63
bytes) while it serves a tenant. The library compares the wanted name with the one the
server last reported (``ParameterStatus``, no round trip) before each query and sends a
session-level ``set_config('application_name', …)`` only when the tenant changes — so a
pooled connection that switches tenants between transactions is re-tagged on its first
query for the new tenant, an untagged query clears the tag, and a rolled-back ``SET`` is
noticed (the server reports the restored name) and sent again. A failing ``SET`` is
ignored: the application's query runs (and fails, if it must) as before.

``comment=True`` also appends a sqlcommenter-style ``/*tenant_id='…'*/`` to each query
for log readers. It does not split ``pg_stat_statements`` rows (comments do not change
queryid), and it makes psycopg prepare one statement per tenant.
"""

from __future__ import annotations

import functools
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol
from uuid import UUID

import psycopg
from psycopg.rows import Row

_current: ContextVar[UUID | None] = ContextVar("tenantcost_tenant", default=None)

MAX_PENDING_EVENTS = 10_000  # batch rows kept while the sink is down; oldest dropped beyond
SAMPLE_CELLS = 10_000  # results larger than this are measured on their first rows only
NS = Decimal(1_000_000_000)


@contextmanager
def tenant(tenant_id: UUID | str) -> Iterator[UUID]:
    """Queries run inside this block (in this thread / task) are counted for ``tenant_id``."""
    tid = tenant_id if isinstance(tenant_id, UUID) else UUID(str(tenant_id))
    token = _current.set(tid)
    try:
        yield tid
    finally:
        _current.reset(token)


def current_tenant() -> UUID | None:
    return _current.get()


TAG_PREFIX = "tc:"
APP_NAME_MAX = 63  # NAMEDATALEN - 1
_TAG_RE = re.compile(r"\s?tc:[0-9a-fA-F-]{36}")


def tagged_app_name(current: str | None, tenant_id: UUID | None) -> str:
    """The application_name for ``tenant_id``: the application's own name (without an
    earlier tag) and ``tc:<uuid>``, within 63 bytes; without a tenant, the own name (pure)."""
    base = _TAG_RE.sub("", current or "").strip()
    if tenant_id is None:
        return base
    tag = f"{TAG_PREFIX}{tenant_id}"
    room = APP_NAME_MAX - len(tag) - 1
    base = base.encode()[: max(room, 0)].decode(errors="ignore").strip()
    return f"{base} {tag}" if base else tag


@functools.lru_cache(maxsize=4096)
def _tag(tenant_id: UUID) -> str:
    return f"{TAG_PREFIX}{tenant_id}"


def sync_backend_tag(conn: Any, tenant_id: UUID | None) -> bool:
    """Make ``conn``'s application_name carry ``tenant_id``'s tag (psycopg 3 or 2); True when
    a SET was sent. Never raises."""
    try:
        pgconn = getattr(conn, "pgconn", None)
        if pgconn is not None:  # psycopg 3, without building a ConnectionInfo
            raw = pgconn.parameter_status(b"application_name")
            current = raw.decode() if raw is not None else None
        else:
            current = conn.get_parameter_status("application_name")
        if tenant_id is None:
            if not current or TAG_PREFIX not in current:
                return False
        elif current and current.endswith(_tag(tenant_id)):
            return False  # the common case: already tagged for this tenant
        wanted = tagged_app_name(current, tenant_id)
        if wanted == (current or ""):
            return False
        if isinstance(conn, psycopg.Connection):
            psycopg.Cursor(conn).execute(
                "SELECT set_config('application_name', %s, false)", (wanted,)
            )
        else:
            cur = conn.cursor()
            try:
                cur.execute("SELECT set_config('application_name', %s, false)", (wanted,))
            finally:
                cur.close()
        return True
    except Exception:  # the tag is best effort: the application's query must not suffer
        return False


def add_comment(query: str, tenant_id: UUID) -> str:
    """sqlcommenter style: ``SELECT 1 /*tenant_id='…'*/`` (before a trailing semicolon)."""
    body = query.rstrip()
    tail = ""
    if body.endswith(";"):
        body, tail = body[:-1], ";"
    return f"{body} /*tenant_id='{tenant_id}'*/{tail}"


# ---- the in-memory aggregate -------------------------------------------------------------
@dataclass(frozen=True)
class AppEvent:
    """One flushed batch row: a tenant's usage in one hour, from one recorder."""

    source_id: str
    event_id: str
    tenant_id: UUID
    hour: datetime
    queries: int
    exec_seconds: Decimal
    rows: int
    result_bytes: int


@dataclass(frozen=True)
class RecorderStats:
    recorded_queries: int
    flushed_events: int
    flushed_queries: int
    duplicate_events: int
    pending_events: int
    dropped_events: int
    dropped_queries: int
    failed_flushes: int
    last_error: str | None


class Sink(Protocol):
    def write(self, events: Sequence[AppEvent]) -> int:
        """Store events; return how many were new. Raise on failure (they will be retried)."""

    def close(self) -> None: ...


class Recorder:
    """Aggregates tagged queries per (tenant, hour) and flushes them to a sink."""

    def __init__(
        self,
        sink: Sink | None,
        *,
        flush_interval: float = 5.0,
        max_pending: int = MAX_PENDING_EVENTS,
        source_id: str | None = None,
        background: bool = True,
    ) -> None:
        self.sink = sink
        self.source_id = source_id or uuid.uuid4().hex
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._live: dict[UUID, list[int]] = {}
        self._pending: deque[AppEvent] = deque()
        self._seq = 0
        self._recorded = 0
        self._flushed_events = 0
        self._flushed_queries = 0
        self._duplicates = 0
        self._dropped_events = 0
        self._dropped_queries = 0
        self._failures = 0
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background and sink is not None:
            self._thread = threading.Thread(
                target=self._run, name="tenantcost-telemetry-flush", daemon=True
            )
            self._thread.start()

    # called on the application's query path: memory only, a short lock
    def record(self, tenant_id: UUID, elapsed_ns: int, rows: int, result_bytes: int) -> None:
        with self._lock:
            self._recorded += 1
            bucket = self._live.get(tenant_id)
            if bucket is None:
                if len(self._live) >= self.max_pending:
                    self._dropped_queries += 1
                    return
                self._live[tenant_id] = [1, elapsed_ns, rows, result_bytes]
                return
            bucket[0] += 1
            bucket[1] += elapsed_ns
            bucket[2] += rows
            bucket[3] += result_bytes

    def _take_batch(self) -> None:
        """Move the live aggregate into pending events with fresh event ids. Queries are
        booked to the UTC hour of the flush (at most ``flush_interval`` after they ran)."""
        with self._lock:
            live, self._live = self._live, {}
        hour = datetime.fromtimestamp(int(time.time()) // 3600 * 3600, UTC)
        for tid, (queries, ns, rows, nbytes) in sorted(live.items(), key=lambda kv: str(kv[0])):
            self._seq += 1
            self._pending.append(
                AppEvent(
                    source_id=self.source_id,
                    event_id=str(self._seq),
                    tenant_id=tid,
                    hour=hour,
                    queries=queries,
                    exec_seconds=Decimal(ns) / NS,
                    rows=rows,
                    result_bytes=nbytes,
                )
            )
        while len(self._pending) > self.max_pending:
            dropped = self._pending.popleft()
            with self._lock:
                self._dropped_events += 1
                self._dropped_queries += dropped.queries

    def flush(self) -> bool:
        """Send what is pending; False when the sink failed (events stay pending)."""
        if self.sink is None:
            return False
        with self._flush_lock:
            self._take_batch()
            while self._pending:
                batch = list(self._pending)[:1000]
                try:
                    new = self.sink.write(batch)
                except Exception as exc:  # the sink's trouble never reaches the app
                    with self._lock:
                        self._failures += 1
                        self._last_error = f"{type(exc).__name__}: {exc}".strip()[:300]
                    return False
                for _ in batch:
                    self._pending.popleft()
                with self._lock:
                    self._flushed_events += new
                    self._duplicates += len(batch) - new
                    self._flushed_queries += sum(e.queries for e in batch)
            return True

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def close(self, timeout: float = 10.0) -> RecorderStats:
        """Stop the flusher, try a last flush, close the sink; returns the final stats."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.flush()
        if self.sink is not None:
            self.sink.close()
        return self.stats()

    def stats(self) -> RecorderStats:
        with self._lock:
            return RecorderStats(
                recorded_queries=self._recorded,
                flushed_events=self._flushed_events,
                flushed_queries=self._flushed_queries,
                duplicate_events=self._duplicates,
                pending_events=len(self._pending) + len(self._live),
                dropped_events=self._dropped_events,
                dropped_queries=self._dropped_queries,
                failed_flushes=self._failures,
                last_error=self._last_error,
            )


# ---- the sink ------------------------------------------------------------------------
class PostgresSink:
    """Writes batches into ``telemetry_app_events`` and ``tenant_usage_hourly`` (idempotent)
    through its own connection, opened lazily and re-opened after a failure."""

    def __init__(self, url: str, *, connect_timeout: int = 2) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            from psycopg.rows import dict_row

            self._conn = psycopg.connect(
                self.url, connect_timeout=self.connect_timeout, row_factory=dict_row
            )
        return self._conn

    def write(self, events: Sequence[AppEvent]) -> int:
        from tenantcost.telemetry.mapping import sql

        try:
            conn = self._connection()
            with conn.transaction():
                for hour in sorted({e.hour for e in events}):
                    conn.execute(sql("ensure_partition"), {"at": hour})
                row = conn.execute(
                    sql("app_events_ingest"),
                    {
                        "source_ids": [e.source_id for e in events],
                        "event_ids": [e.event_id for e in events],
                        "tenants": [e.tenant_id for e in events],
                        "hours": [e.hour for e in events],
                        "queries": [e.queries for e in events],
                        "exec_seconds": [e.exec_seconds for e in events],
                        "rows": [e.rows for e in events],
                        "bytes": [e.result_bytes for e in events],
                    },
                ).fetchone()
            return int(row["inserted"]) if row else 0
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# ---- measuring a result -------------------------------------------------------------------
def result_size(cursor: Any) -> tuple[int, int]:
    """(rows, bytes) of the result a psycopg cursor holds: bytes are the values' wire sizes.
    Large results are measured on their first rows and scaled (an estimate)."""
    rowcount = cursor.rowcount or 0
    result = getattr(cursor, "pgresult", None)
    if result is None:
        return max(rowcount, 0), 0
    ntuples = result.ntuples
    if not ntuples:
        return max(rowcount, 0), 0
    nfields = result.nfields
    value = result.get_value
    total = 0
    if ntuples == 1:  # the common case, kept short
        for c in range(nfields):
            cell = value(0, c)
            if cell is not None:
                total += len(cell)
        return max(rowcount, 1), total
    measured = min(ntuples, max(1, SAMPLE_CELLS // max(nfields, 1)))
    for r in range(measured):
        for c in range(nfields):
            cell = value(r, c)
            if cell is not None:
                total += len(cell)
    if measured < ntuples:
        total = total * ntuples // measured
    return max(rowcount, ntuples), total


# ---- psycopg 3 -----------------------------------------------------------------------
_default_recorder: Recorder | None = None


def set_default_recorder(recorder: Recorder | None) -> None:
    """The recorder ``TaggedCursor`` uses when it was not given one."""
    global _default_recorder
    _default_recorder = recorder


class TaggedCursor(psycopg.Cursor[Row]):
    """A psycopg cursor that counts queries run inside ``with tenant(…)``."""

    recorder: ClassVar[Recorder | None] = None
    comment: ClassVar[bool] = False
    tag_backend: ClassVar[bool] = True

    def execute(
        self,
        query: Any,
        params: Any = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> TaggedCursor[Row]:
        tid = _current.get()
        if self.tag_backend:
            sync_backend_tag(self.connection, tid)
        if tid is None:
            super().execute(query, params, prepare=prepare, binary=binary)
            return self
        if self.comment and isinstance(query, str):
            query = add_comment(query, tid)
        start = time.perf_counter_ns()
        try:
            super().execute(query, params, prepare=prepare, binary=binary)
        finally:
            elapsed = time.perf_counter_ns() - start
            recorder = type(self).recorder or _default_recorder
            if recorder is not None:
                rows, nbytes = result_size(self)
                recorder.record(tid, elapsed, rows, nbytes)
        return self


def tagged_cursor_class(
    recorder: Recorder, *, comment: bool = False, tag_backend: bool = True
) -> type[TaggedCursor[Any]]:
    """A TaggedCursor subclass bound to ``recorder``."""
    return type(
        "BoundTaggedCursor",
        (TaggedCursor,),
        {"recorder": recorder, "comment": comment, "tag_backend": tag_backend},
    )


def instrument_connection(
    conn: psycopg.Connection[Any],
    recorder: Recorder,
    *,
    comment: bool = False,
    tag_backend: bool = True,
) -> psycopg.Connection[Any]:
    """Make ``conn``'s cursors (and ``conn.execute``) count tagged queries, and tag its
    backend's application_name with the tenant it serves (``tag_backend``)."""
    conn.cursor_factory = tagged_cursor_class(recorder, comment=comment, tag_backend=tag_backend)
    return conn


def tagged_connect(
    url: str,
    recorder: Recorder,
    *,
    comment: bool = False,
    tag_backend: bool = True,
    **kwargs: Any,
) -> psycopg.Connection[Any]:
    """``psycopg.connect`` with tagged cursors."""
    return instrument_connection(
        psycopg.connect(url, **kwargs), recorder, comment=comment, tag_backend=tag_backend
    )


# ---- SQLAlchemy ----------------------------------------------------------------------
def instrument_engine(
    engine: Any, recorder: Recorder, *, comment: bool = False, tag_backend: bool = True
) -> None:
    """Count tagged queries on a SQLAlchemy engine (``before/after_cursor_execute``)."""
    from sqlalchemy import event

    def before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> tuple[str, Any]:
        tid = _current.get()
        if tag_backend:
            sync_backend_tag(getattr(cursor, "connection", None), tid)
        if tid is not None:
            if context is not None:
                context._tenantcost_start = time.perf_counter_ns()
            if comment:
                statement = add_comment(statement, tid)
        return statement, parameters

    def after(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        tid = _current.get()
        start = getattr(context, "_tenantcost_start", None)
        if tid is None or start is None:
            return
        context._tenantcost_start = None
        rows, nbytes = result_size(cursor)
        recorder.record(tid, time.perf_counter_ns() - start, rows, nbytes)

    event.listen(engine, "before_cursor_execute", before, retval=True)
    event.listen(engine, "after_cursor_execute", after)
