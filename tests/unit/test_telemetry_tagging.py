"""The tagging library without a database: aggregation, flushing, a sink that is down."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import pytest

from tenantcost.telemetry.tagging import (
    AppEvent,
    Recorder,
    add_comment,
    current_tenant,
    result_size,
    tenant,
)

A = UUID("00000000-0000-0000-0000-00000000000a")
B = UUID("00000000-0000-0000-0000-00000000000b")


class MemorySink:
    """Idempotent like the real one: (source_id, event_id) counts once."""

    def __init__(self) -> None:
        self.down = False
        self.seen: dict[tuple[str, str], AppEvent] = {}
        self.calls = 0

    def write(self, events: Sequence[AppEvent]) -> int:
        self.calls += 1
        if self.down:
            raise ConnectionError("sink is down")
        new = 0
        for e in events:
            if (e.source_id, e.event_id) not in self.seen:
                self.seen[(e.source_id, e.event_id)] = e
                new += 1
        return new

    def close(self) -> None:
        pass


def test_tenant_context_is_scoped() -> None:
    assert current_tenant() is None
    with tenant(str(A)) as tid:
        assert tid == A and current_tenant() == A
        with tenant(B):
            assert current_tenant() == B
        assert current_tenant() == A
    assert current_tenant() is None


def test_records_aggregate_per_tenant_and_flush() -> None:
    sink = MemorySink()
    rec = Recorder(sink, background=False)
    rec.record(A, 1_000_000, 2, 10)  # 1 ms
    rec.record(A, 3_000_000, 1, 5)  # 3 ms
    rec.record(B, 500_000, 0, 0)
    assert rec.flush()
    events = {e.tenant_id: e for e in sink.seen.values()}
    assert events[A].queries == 2 and events[A].rows == 3 and events[A].result_bytes == 15
    assert str(events[A].exec_seconds) == "0.004"  # (1 + 3) ms
    assert events[B].queries == 1
    stats = rec.stats()
    assert stats.flushed_queries == 3 and stats.pending_events == 0 and stats.dropped_queries == 0


def test_sink_down_keeps_events_and_retries_with_the_same_ids() -> None:
    sink = MemorySink()
    sink.down = True
    rec = Recorder(sink, background=False)
    rec.record(A, 1000, 1, 1)
    assert rec.flush() is False  # never raises
    stats = rec.stats()
    assert stats.failed_flushes == 1 and stats.pending_events == 1
    assert stats.last_error is not None and "down" in stats.last_error
    pending_id = rec._pending[0].event_id
    sink.down = False
    assert rec.flush()
    assert list(sink.seen) == [(rec.source_id, pending_id)]


def test_buffer_is_bounded_and_drops_are_counted() -> None:
    sink = MemorySink()
    sink.down = True
    rec = Recorder(sink, background=False, max_pending=2)
    for i in range(3):  # three separate tenants -> three events, two fit
        rec.record(UUID(int=i + 1), 1000, 0, 0)
        rec.record(UUID(int=i + 1), 1000, 0, 0)
        rec.flush()
    stats = rec.stats()
    assert stats.pending_events == 2
    assert stats.dropped_events == 1 and stats.dropped_queries == 2  # the oldest, 2 queries


def test_live_buckets_are_bounded_too() -> None:
    rec = Recorder(MemorySink(), background=False, max_pending=1)
    rec.record(A, 1, 0, 0)
    rec.record(B, 1, 0, 0)  # a second tenant does not fit
    rec.record(A, 1, 0, 0)  # an existing bucket still counts
    stats = rec.stats()
    assert stats.recorded_queries == 3 and stats.dropped_queries == 1


def test_duplicate_delivery_counts_once() -> None:
    sink = MemorySink()
    rec = Recorder(sink, background=False, source_id="src")
    rec.record(A, 1, 0, 0)
    rec.flush()
    event = next(iter(sink.seen.values()))
    assert sink.write([event]) == 0  # a re-sent batch adds nothing


def test_background_flusher_and_close() -> None:
    sink = MemorySink()
    rec = Recorder(sink, flush_interval=0.01)
    rec.record(A, 1, 0, 0)
    stats = rec.close()
    assert stats.flushed_queries == 1 and stats.pending_events == 0


def test_sqlcommenter_comment() -> None:
    assert add_comment("SELECT 1;", A) == f"SELECT 1 /*tenant_id='{A}'*/;"
    assert add_comment("SELECT 1", A) == f"SELECT 1 /*tenant_id='{A}'*/"


class FakeResult:
    def __init__(self, cells: list[list[bytes | None]]) -> None:
        self.cells = cells
        self.ntuples = len(cells)
        self.nfields = len(cells[0]) if cells else 0

    def get_value(self, row: int, col: int) -> bytes | None:
        return self.cells[row][col]


class FakeCursor:
    def __init__(self, cells: list[list[bytes | None]], rowcount: int) -> None:
        self.pgresult = FakeResult(cells)
        self.rowcount = rowcount


def test_result_size_sums_value_lengths() -> None:
    cursor = FakeCursor([[b"abc", b"12"], [None, b"x"]], rowcount=2)
    assert result_size(cursor) == (2, 6)  # 3 + 2 + 0 + 1


def test_result_size_samples_large_results(monkeypatch: pytest.MonkeyPatch) -> None:
    from tenantcost.telemetry import tagging

    monkeypatch.setattr(tagging, "SAMPLE_CELLS", 10)
    cursor = FakeCursor([[b"ab"]] * 100, rowcount=100)
    # 10 rows measured (20 bytes) scaled to 100 rows: 200
    assert result_size(cursor) == (100, 200)


def test_no_result_means_no_bytes() -> None:
    class Plain:
        rowcount = 3
        pgresult = None

    assert result_size(Plain()) == (3, 0)
