"""Page data and rendered fragments, kept until the figures' next refresh (per process).

Everything a page shows from the cost model changes only when the figures are recomputed
(``tenantcost_refresh_state.refreshed_at``, written by every attribution and refresh) or when
a cost input changes (``tenantcost_cost_input_changes``, the "stale: N changes" counter). The
pair, with the latest attributed month, is the cache's *generation*: one cheap query per
request reads it, and an entry is served only under the generation it was computed under. A
refresh or a counted change moves the generation, so the next request recomputes: nothing
older than the last refresh is ever served. The cache stores the figures the cost model gives
(never a figure computed another way); live parts (tier signals, the outbox) are not cached.

Memory is bounded twice: at most ``max_entries`` entries and ``max_bytes`` of estimated size
(``approx_size``: the objects' own ``sys.getsizeof``, containers walked), least recently used
dropped first; a value larger than a quarter of the budget is served but not kept. When the
generation moves every older entry is dropped at once. Concurrent misses of one key compute
once (the others wait for it), so a refresh under 100 users costs one query per page.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries

T = TypeVar("T")


@dataclass(frozen=True)
class Generation:
    """What the cached figures were computed from: a change to any of it invalidates them."""

    refreshed_at: datetime | None
    changes_pending: int
    latest_period: str | None


def generation_sql() -> str:
    """The cost model's own freshness (``tenantcost.attribution`` ``freshness``)."""
    return queries("tenantcost.attribution")["freshness"]


def generation_of(row: Any) -> Generation:
    """(pure) The generation a ``generation_sql`` row gives."""
    return Generation(row["refreshed_at"], int(row["changes_pending"] or 0), row["period"])


def generation(conn: Connection) -> Generation:
    """The cost model's freshness, read once (one query)."""
    return generation_of(conn.execute(generation_sql()).fetchone())


def newer(gen: Generation, than: Generation | None) -> bool:
    """(pure) Whether ``gen`` comes after ``than``: a later refresh, or more changes counted
    since the same refresh (a refresh resets the count, so the refresh time decides first)."""
    if than is None:
        return True
    if gen.refreshed_at != than.refreshed_at:
        if than.refreshed_at is None:
            return True
        return gen.refreshed_at is not None and gen.refreshed_at > than.refreshed_at
    return gen.changes_pending >= than.changes_pending


#: Items of a long list or tuple that ``approx_size`` measures (the rest are taken as alike).
SAMPLED = 8


def approx_size(value: Any, _depth: int = 0) -> int:
    """(pure) Bytes a value holds, estimated: ``sys.getsizeof`` of it and what it contains
    (dicts, lists, tuples, sets, dataclass-like ``__dict__``), shared objects counted again;
    a list or tuple longer than ``SAMPLED`` from its first ``SAMPLED`` items."""
    size = sys.getsizeof(value)
    if _depth > 20:
        return size
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return size
    if isinstance(value, Mapping):
        return size + sum(
            approx_size(k, _depth + 1) + approx_size(v, _depth + 1) for k, v in value.items()
        )
    if isinstance(value, list | tuple) and len(value) > SAMPLED:
        # a long sequence (a table's rows) is mostly alike: its first SAMPLED items stand
        # for the rest, so keeping a page costs no walk over every cell
        sample = sum(approx_size(v, _depth + 1) for v in value[:SAMPLED])
        return size + sample * len(value) // SAMPLED
    if isinstance(value, list | tuple | set | frozenset):
        return size + sum(approx_size(v, _depth + 1) for v in value)
    inner = getattr(value, "__dict__", None)
    if isinstance(inner, dict):
        return size + approx_size(inner, _depth + 1)
    return size


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    computes: int = 0
    evictions: int = 0
    invalidations: int = 0
    entries: int = 0
    bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class PageCache:
    """A bounded LRU of values keyed on (generation, key); thread-safe; one compute per miss."""

    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._generation: Generation | None = None
        self._flights: dict[Hashable, _Flight] = {}
        self.stats = CacheStats()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def get(self, gen: Generation, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key`` under ``gen``: from the cache, or computed (once) and kept."""
        if not self.enabled:
            with self._lock:
                self.stats.computes += 1
            return compute()
        full = (gen, key)
        with self._lock:
            if gen != self._generation and newer(gen, self._generation):
                self._drop_all(gen)
            current = gen == self._generation
            found = self._entries.get(full) if current else None
            if found is not None:
                self._entries.move_to_end(full)
                self.stats.hits += 1
                return found[0]  # type: ignore[no-any-return]
            self.stats.misses += 1
            flight = self._flights.get(full) if current else None
            if flight is None:
                mine = _Flight()
                if current:
                    self._flights[full] = mine
        if flight is not None:  # another request computes it: wait for its value
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value  # type: ignore[no-any-return]
        # read before a refresh that another request has already seen: compute, keep nothing
        return self._lead(gen, full, mine, compute, keep=current)

    def _lead(
        self, gen: Generation, full: Hashable, flight: _Flight, compute: Callable[[], T], keep: bool
    ) -> T:
        with self._lock:
            self.stats.computes += 1
        try:
            value = compute()
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.value = value
            if keep:
                self._keep(gen, full, value)
            return value
        finally:
            with self._lock:
                if self._flights.get(full) is flight:
                    del self._flights[full]
            flight.done.set()

    def _keep(self, gen: Generation, full: Hashable, value: Any) -> None:
        size = approx_size(full) + approx_size(value)
        if size > self.max_bytes // 4:
            return
        with self._lock:
            if gen != self._generation:
                return  # computed under a generation that has since moved on
            old = self._entries.pop(full, None)
            if old is not None:
                self.stats.bytes -= old[1]
            self._entries[full] = (value, size)
            self.stats.bytes += size
            while len(self._entries) > self.max_entries or self.stats.bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.stats.bytes -= dropped
                self.stats.evictions += 1
            self.stats.entries = len(self._entries)

    def _drop_all(self, gen: Generation) -> None:
        if self._entries:
            self.stats.invalidations += 1
        self._entries.clear()
        self._generation = gen
        self.stats.bytes = 0
        self.stats.entries = 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation = None
            self.stats.bytes = 0
            self.stats.entries = 0
