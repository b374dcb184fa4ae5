"""Deltas of cumulative counters between two collector passes (pure functions).

``pg_stat_statements`` keeps cumulative counters per (dbid, userid, queryid, toplevel).
Cost is attributed from what happened *between* two passes, so each pass subtracts the
previous snapshot. What can go wrong, and what we do:

- **Global reset** (``pg_stat_statements_reset()``; ``stats_reset`` in
  ``pg_stat_statements_info`` changed): every entry counts from zero (delta = current).
- **Entry reset or counter going down** (per-entry reset, crash, a changed
  ``stats_since`` on PostgreSQL 17+): that entry counts from zero instead of a negative delta.
- **New entry**: counts from zero (it started after the previous pass, or was evicted and
  came back).
- **Evictions** (``dealloc`` grew): statements evicted between passes took their counts
  with them — reported as a possible undercount, never hidden.
- **First pass ever** (no previous snapshot): a baseline only; nothing is attributed,
  because the counters hold history from before tenantcost was watching.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


class StatementKey(NamedTuple):
    dbid: int
    userid: int
    queryid: int
    toplevel: bool

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StatementKey:
        return cls(int(row["dbid"]), int(row["userid"]), int(row["queryid"]), bool(row["toplevel"]))


@dataclass(frozen=True, slots=True)
class Counters:
    """One entry's cumulative counters (times in milliseconds, CPU in seconds)."""

    calls: int = 0
    exec_ms: float = 0.0
    plan_ms: float = 0.0
    rows: int = 0
    io_read_ms: float = 0.0
    shared_blks_read: int = 0
    shared_blks_hit: int = 0
    wal_bytes: int = 0
    cpu_user_s: float | None = None
    cpu_system_s: float | None = None
    stats_since: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Counters:
        """From a pg_stat_statements read or a stored snapshot (CPU columns optional)."""
        cpu_user, cpu_system = row.get("cpu_user_s"), row.get("cpu_system_s")
        return cls(
            calls=int(row["calls"]),
            exec_ms=float(row["exec_ms"]),
            plan_ms=float(row["plan_ms"]),
            rows=int(row["rows"]),
            io_read_ms=float(row["io_read_ms"]),
            shared_blks_read=int(row["shared_blks_read"]),
            shared_blks_hit=int(row["shared_blks_hit"]),
            wal_bytes=int(row["wal_bytes"]),
            cpu_user_s=None if cpu_user is None else float(cpu_user),
            cpu_system_s=None if cpu_system is None else float(cpu_system),
            stats_since=row["stats_since"],
        )

    def values(self) -> tuple[Any, ...]:
        """The counters in the order of ``COUNTER_COLUMNS`` (a stored snapshot's columns)."""
        return (
            self.calls,
            self.exec_ms,
            self.plan_ms,
            self.rows,
            self.io_read_ms,
            self.shared_blks_read,
            self.shared_blks_hit,
            self.wal_bytes,
            self.cpu_user_s,
            self.cpu_system_s,
            self.stats_since,
        )

    def numbers(self) -> tuple[float, ...]:
        """The counters as numbers (CPU 0 when not measured), without ``stats_since``."""
        *counts, user, system, _since = self.values()
        return (*counts, user or 0.0, system or 0.0)


ZERO = Counters()
COUNTER_COLUMNS = (
    "calls",
    "exec_ms",
    "plan_ms",
    "rows",
    "io_read_ms",
    "shared_blks_read",
    "shared_blks_hit",
    "wal_bytes",
    "cpu_user_s",
    "cpu_system_s",
    "stats_since",
)


def went_down(prev: Counters, cur: Counters) -> bool:
    """True when any counter is lower now, or the entry's stats_since changed (reset)."""
    since_known = prev.stats_since is not None and cur.stats_since is not None
    if since_known and cur.stats_since != prev.stats_since:
        return True
    return any(c < p for p, c in zip(prev.numbers(), cur.numbers(), strict=True))


def subtract(prev: Counters, cur: Counters) -> Counters:
    """cur - prev, counter by counter (the caller has checked nothing went down)."""

    def cpu(p: float | None, c: float | None) -> float | None:
        return None if c is None else c - (p or 0.0)

    return Counters(
        calls=cur.calls - prev.calls,
        exec_ms=cur.exec_ms - prev.exec_ms,
        plan_ms=cur.plan_ms - prev.plan_ms,
        rows=cur.rows - prev.rows,
        io_read_ms=cur.io_read_ms - prev.io_read_ms,
        shared_blks_read=cur.shared_blks_read - prev.shared_blks_read,
        shared_blks_hit=cur.shared_blks_hit - prev.shared_blks_hit,
        wal_bytes=cur.wal_bytes - prev.wal_bytes,
        cpu_user_s=cpu(prev.cpu_user_s, cur.cpu_user_s),
        cpu_system_s=cpu(prev.cpu_system_s, cur.cpu_system_s),
        stats_since=cur.stats_since,
    )


def is_zero(delta: Counters) -> bool:
    return not any(delta.numbers())


@dataclass
class DeltaResult:
    """Deltas per entry and what the pass noticed."""

    deltas: dict[StatementKey, Counters] = field(default_factory=dict)
    baseline: bool = False
    global_reset: bool = False
    new_entries: int = 0
    reset_entries: int = 0
    vanished_entries: int = 0
    evicted: int = 0

    def warnings(self) -> list[str]:
        notes = []
        if self.baseline:
            notes.append(
                "first pass: pg_stat_statements baseline taken, nothing attributed yet "
                "(counters before this pass are history tenantcost did not watch)"
            )
        if self.global_reset:
            notes.append("pg_stat_statements was reset since the last pass: counted from zero")
        if self.reset_entries:
            notes.append(
                f"{self.reset_entries} statement entries were reset or went down: counted from zero"
            )
        if self.evicted:
            notes.append(
                f"{self.evicted} pg_stat_statements entries were evicted (dealloc) since the "
                "last pass: statements run and evicted in between are not counted (possible "
                "undercount; raise pg_stat_statements.max or collect more often)"
            )
        return notes


def dealloc_delta(before: int | None, now: int | None) -> int:
    """Evictions since the previous pass; a lower value means the info was reset."""
    if now is None or before is None:
        return 0
    return now - before if now >= before else now


def statement_deltas(
    prev: Mapping[StatementKey, Counters] | None,
    cur: Mapping[StatementKey, Counters],
    *,
    global_reset: bool = False,
    dealloc_before: int | None = None,
    dealloc_now: int | None = None,
) -> DeltaResult:
    """Per-entry deltas between two snapshots; ``prev`` None means first pass (baseline)."""
    result = DeltaResult(global_reset=global_reset)
    if prev is None:
        result.baseline = True
        return result
    result.evicted = dealloc_delta(dealloc_before, dealloc_now)
    result.vanished_entries = sum(1 for key in prev if key not in cur)
    for key, now in cur.items():
        before = prev.get(key)
        if before is None:
            delta = now
            result.new_entries += 1
        elif global_reset:
            delta = now
        elif went_down(before, now):
            delta = now
            result.reset_entries += 1
        else:
            delta = subtract(before, now)
        if not is_zero(delta):
            result.deltas[key] = delta
    return result


def counter_delta(before: float | None, now: float) -> float:
    """A single cumulative counter: from zero when there was none or it went down."""
    if before is None or now < before:
        return now
    return now - before


def sum_counters(items: Iterable[Counters]) -> Counters:
    """Totals of several deltas (CPU None when no item had it)."""
    total = ZERO
    for d in items:
        total = Counters(
            calls=total.calls + d.calls,
            exec_ms=total.exec_ms + d.exec_ms,
            plan_ms=total.plan_ms + d.plan_ms,
            rows=total.rows + d.rows,
            io_read_ms=total.io_read_ms + d.io_read_ms,
            shared_blks_read=total.shared_blks_read + d.shared_blks_read,
            shared_blks_hit=total.shared_blks_hit + d.shared_blks_hit,
            wal_bytes=total.wal_bytes + d.wal_bytes,
            cpu_user_s=None
            if total.cpu_user_s is None and d.cpu_user_s is None
            else (total.cpu_user_s or 0.0) + (d.cpu_user_s or 0.0),
            cpu_system_s=None
            if total.cpu_system_s is None and d.cpu_system_s is None
            else (total.cpu_system_s or 0.0) + (d.cpu_system_s or 0.0),
        )
    return total
