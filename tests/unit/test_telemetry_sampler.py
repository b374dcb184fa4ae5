"""Backend CPU sampler arithmetic, a fake proc root, the hour split and the source chain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from tenantcost.telemetry.collector import UsageRow, choose_compute_source, spread_counters
from tenantcost.telemetry.mapping import TenantMap
from tenantcost.telemetry.sampler import (
    BACKGROUND,
    Accumulated,
    Activity,
    BackendSampler,
    ProcCpu,
    ProcReader,
    Seen,
    attribute_tick,
    exit_tails,
    owners,
    parse_stat,
    split_delta,
    tag_of,
)
from tenantcost.telemetry.tagging import tagged_app_name
from tenantcost.telemetry.timeutil import split_across_hours

A = UUID("00000000-0000-0000-0000-00000000000a")
B = UUID("00000000-0000-0000-0000-00000000000b")
T0 = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)
MS = 1_000_000  # ns


def tick(
    previous: dict[int, Seen],
    current: dict[int, tuple[ProcCpu, object, bool, datetime | None]],
    leaving: dict[int, ProcCpu | None] | None = None,
    children: tuple[int, int] | None = None,
    **kw: object,
) -> object:
    return attribute_tick(
        previous,
        current,  # type: ignore[arg-type]
        leaving or {},
        t0=T0,
        t1=T1,
        postmaster_children_before=children[0] if children else None,
        postmaster_children_now=children[1] if children else None,
        **kw,  # type: ignore[arg-type]
    )


# ---- /proc parsing ------------------------------------------------------------------------
def stat_line(pid: int, comm: str, ppid: int, utime: int, stime: int, start: int, **kw: int) -> str:
    # fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice threads itrealvalue starttime ...
    cutime, cstime = kw.get("cutime", 0), kw.get("cstime", 0)
    return (
        f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 10 0 0 0 "
        f"{utime} {stime} {cutime} {cstime} 20 0 1 0 {start} 1000 100 0\n"
    )


def test_parse_stat_handles_spaces_and_parentheses_in_the_name() -> None:
    f = parse_stat(stat_line(42, "postgres: a (b) c", 7, 150, 30, 9999, cutime=5, cstime=6))
    assert (f.comm, f.ppid, f.utime, f.stime, f.cutime, f.cstime, f.starttime) == (
        "postgres: a (b) c",
        7,
        150,
        30,
        5,
        6,
        9999,
    )


def make_proc(root: Path, pid: int, text: str, schedstat: int | None = None) -> None:
    (root / str(pid)).mkdir(parents=True, exist_ok=True)
    (root / str(pid) / "stat").write_text(text)
    if schedstat is not None:
        (root / str(pid) / "schedstat").write_text(f"{schedstat} 123 4\n")


def test_reader_prefers_schedstat_and_falls_back_to_ticks(tmp_path: Path) -> None:
    with_sched = tmp_path / "a"
    make_proc(with_sched, 10, stat_line(10, "postgres", 1, 7, 3, 500), schedstat=123_456_789)
    reader = ProcReader(with_sched, clk_tck=100)
    assert reader.schedstat
    assert reader.cpu(10) == ProcCpu(10, 500, 123_456_789)
    ticks = tmp_path / "b"
    make_proc(ticks, 10, stat_line(10, "postgres", 1, 7, 3, 500))
    reader = ProcReader(ticks, clk_tck=100)
    assert not reader.schedstat
    # (7 + 3) ticks at 100 ticks/s = 0.1 s = 100,000,000 ns
    assert reader.cpu(10) == ProcCpu(10, 500, 100_000_000)
    assert reader.cpu(11) is None  # gone


def test_reader_children_and_postmaster_children_cpu(tmp_path: Path) -> None:
    make_proc(tmp_path, 1, stat_line(1, "postgres", 0, 1, 1, 10, cutime=40, cstime=10))
    (tmp_path / "1" / "task" / "1").mkdir(parents=True)
    (tmp_path / "1" / "task" / "1" / "children").write_text("5 6 ")
    reader = ProcReader(tmp_path, clk_tck=100)
    assert reader.children(1) == [5, 6]
    pm = reader.stat(1)
    assert pm is not None
    assert reader.children_cpu_ns(pm) == (40 + 10) * 10 * MS  # 50 ticks of 10 ms


# ---- whom a backend serves ------------------------------------------------------------------
def test_tag_from_application_name_then_query_comment() -> None:
    assert tag_of(f"web tc:{A}", None) == A
    assert tag_of("web", f"/*tenant_id='{B}'*/ SELECT 1") == B
    assert tag_of("web", f"SELECT 1 /*controller='x',tenant_id='{B}'*/") == B
    assert tag_of(f"tc:{A}", f"/*tenant_id='{B}'*/ SELECT 1") == A  # the name wins
    assert tag_of("web", "SELECT 1") is None
    assert tag_of(None, None) is None


def test_owners_tag_mapping_background_and_parallel_workers() -> None:
    tmap = TenantMap(databases={"db_a": A}, roles={"role_b": B})
    acts = [
        Activity(1, "client backend", datname="db_a", usename="x"),
        Activity(2, "client backend", datname="shared", usename="role_b"),
        Activity(3, "client backend", datname="shared", application_name=f"app tc:{A}"),
        Activity(4, "client backend", datname="tenantcost", usename="tc"),
        Activity(5, "autovacuum worker", datname="db_a"),
        Activity(6, "checkpointer"),
        Activity(7, "parallel worker", datname="shared", leader_pid=3),
        Activity(8, "parallel worker", datname="db_a", leader_pid=999),  # leader not listed
    ]
    assert owners(acts, tmap) == {
        1: A,
        2: B,
        3: A,
        4: None,
        5: BACKGROUND,
        6: BACKGROUND,
        7: A,
        8: A,
    }


# ---- tick arithmetic -------------------------------------------------------------------------
def test_deltas_per_backend_and_new_backends_count_from_zero() -> None:
    previous = {10: Seen(100, 50 * MS, A), 11: Seen(101, 20 * MS, B)}
    result = tick(
        previous,
        {
            10: (ProcCpu(10, 100, 80 * MS), A, True, None),  # +30 ms
            11: (ProcCpu(11, 101, 25 * MS), B, True, None),  # +5 ms
            12: (ProcCpu(12, 900, 7 * MS), A, True, None),  # new since the last tick: all 7 ms
        },
        sampler_started=500,
    )
    assert result.cpu_ns == {A: (30 + 7) * MS, B: 5 * MS}  # type: ignore[attr-defined]


def test_first_sighting_of_an_old_process_is_a_baseline() -> None:
    result = tick({}, {12: (ProcCpu(12, 400, 900 * MS), A, True, None)}, sampler_started=500)
    assert result.cpu_ns == {}  # type: ignore[attr-defined]
    assert result.seen[12].cpu_ns == 900 * MS  # type: ignore[attr-defined]


def test_pid_reuse_never_gives_a_negative_or_doubled_delta() -> None:
    # pid 10 was an old backend at 500 ms; now pid 10 is a new process (other start time)
    # that has used 3 ms. The old one exited: the postmaster's children grew by its total
    # 520 ms (20 ms after our last reading).
    previous = {10: Seen(100, 500 * MS, A, True, 0.0)}
    result = tick(
        previous,
        {10: (ProcCpu(10, 777, 3 * MS), B, True, None)},
        children=(0, 520 * MS),
        sampler_started=50,
        estimate_tails=False,
    )
    assert result.cpu_ns == {B: 3 * MS, None: 20 * MS}  # type: ignore[attr-defined]
    assert result.exited_ns == 20 * MS  # type: ignore[attr-defined]


def test_disappearing_backend_read_once_more_then_exited_remainder() -> None:
    previous = {10: Seen(100, 50 * MS, A), 11: Seen(101, 70 * MS, B, True, 0.0)}
    result = tick(
        previous,
        {},
        leaving={10: ProcCpu(10, 100, 60 * MS), 11: None},  # 10 still in /proc, 11 gone
        children=(1000 * MS, 1000 * MS + 75 * MS),  # 11 exited at 75 ms total
        estimate_tails=False,
    )
    # 10: +10 ms to A (still followed); 11: growth 75 - last reading 70 = 5 ms exited
    assert result.cpu_ns == {A: 10 * MS, None: 5 * MS}  # type: ignore[attr-defined]
    assert 10 in result.seen and 11 not in result.seen  # type: ignore[attr-defined]


def test_exited_balance_is_carried_never_negative() -> None:
    # 11 left pg_stat_activity and /proc, but the postmaster has not reaped it yet
    previous = {11: Seen(101, 70 * MS, B)}
    first = tick(previous, {}, leaving={11: None}, children=(0, 0), estimate_tails=False)
    assert first.cpu_ns == {} and first.exit_balance_ns == -70 * MS  # type: ignore[attr-defined]
    # next tick: reaped with 72 ms total -> 2 ms exited
    second = attribute_tick(
        {},
        {},
        {},
        t0=T1,
        t1=T1 + timedelta(seconds=1),
        postmaster_children_before=0,
        postmaster_children_now=72 * MS,
        exit_balance_ns=first.exit_balance_ns,  # type: ignore[attr-defined]
        estimate_tails=False,
    )
    assert second.cpu_ns == {None: 2 * MS} and second.exit_balance_ns == 0


def test_exit_tails_bounded_by_rate_and_the_rest_unattributed() -> None:
    # A's backend ran at 400 ms/s, B's at 100 ms/s; interval 1 s. Bounds 400 and 100 ms.
    gone = [Seen(1, 0, A, True, 400e6), Seen(2, 0, B, True, 100e6), Seen(3, 0, None, True, 1e9)]
    # remainder 250 ms: A gets 250 * 400/500 = 200 ms, B 250 * 100/500 = 50 ms
    assert exit_tails(250 * MS, gone, 1.0) == {A: 200 * MS, B: 50 * MS}
    # remainder 900 ms: each capped at its bound, the rest stays unattributed
    assert exit_tails(900 * MS, gone, 1.0) == {A: 400 * MS, B: 100 * MS}
    previous = {1: Seen(1, 10 * MS, A, True, 400e6), 2: Seen(2, 10 * MS, B, True, 100e6)}
    result = tick(previous, {}, leaving={1: None, 2: None}, children=(0, 20 * MS + 900 * MS))
    assert result.cpu_ns == {A: 400 * MS, B: 100 * MS, None: 400 * MS}  # type: ignore[attr-defined]
    assert result.tails_ns == 500 * MS and result.exited_ns == 400 * MS  # type: ignore[attr-defined]


def test_tenant_change_between_samples() -> None:
    # idle for A at the start: everything to B
    idle = Seen(100, 0, A, busy=False)
    assert split_delta(100, idle, B, None, T0, T1) == {B: 100}
    # busy for A, B's transaction began 0.25 s before the end: 75 % A, 25 % B
    busy = Seen(100, 0, A, busy=True)
    started = T1 - timedelta(milliseconds=250)
    assert split_delta(100 * MS, busy, B, started, T0, T1) == {A: 75 * MS, B: 25 * MS}
    # busy for A, B's start unknown: the later tenant
    assert split_delta(100, busy, B, None, T0, T1) == {B: 100}
    assert split_delta(0, busy, B, started, T0, T1) == {}
    result = tick({10: Seen(100, 0, A, True)}, {10: (ProcCpu(10, 100, 100 * MS), B, True, started)})
    assert result.cpu_ns == {A: 75 * MS, B: 25 * MS}  # type: ignore[attr-defined]


def test_accumulated_rows_by_metric_and_hour_split() -> None:
    acc = Accumulated()
    late = datetime(2026, 1, 5, 10, 59, 59, 500_000, tzinfo=UTC)
    # 1 s across 11:00: half in each hour
    acc.add(late, late + timedelta(seconds=1), {A: 800 * MS, BACKGROUND: 200 * MS, None: 2 * MS})
    rows = {(r.hour.hour, r.tenant_id, r.metric): r.quantity for r in acc.rows()}
    assert rows == {
        (10, A, "compute_seconds"): Decimal("0.4"),
        (11, A, "compute_seconds"): Decimal("0.4"),
        (10, None, "background_cpu_seconds"): Decimal("0.1"),
        (11, None, "background_cpu_seconds"): Decimal("0.1"),
        (10, None, "compute_seconds"): Decimal("0.001"),
        (11, None, "compute_seconds"): Decimal("0.001"),
    }


# ---- the hour split -------------------------------------------------------------------------
def test_split_across_hours_by_hand() -> None:
    start = datetime(2026, 1, 5, 9, 45, tzinfo=UTC)
    end = datetime(2026, 1, 5, 11, 15, tzinfo=UTC)
    # 90 minutes: 15 in 9h, 60 in 10h, 15 in 11h -> 1/6, 4/6, 1/6 of 12
    parts = split_across_hours(start, end, Decimal(12))
    assert parts == {
        datetime(2026, 1, 5, 9, tzinfo=UTC): Decimal(2),
        datetime(2026, 1, 5, 10, tzinfo=UTC): Decimal(8),
        datetime(2026, 1, 5, 11, tzinfo=UTC): Decimal(2),
    }
    # rounding: 1 over three whole hours -> 0.333333, 0.333333, and the rest 0.333334 last
    nine, noon = datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 5, 12, tzinfo=UTC)
    assert split_across_hours(nine, noon, Decimal(1)) == {
        nine: Decimal("0.333333"),
        datetime(2026, 1, 5, 10, tzinfo=UTC): Decimal("0.333333"),
        datetime(2026, 1, 5, 11, tzinfo=UTC): Decimal("0.333334"),
    }
    within = split_across_hours(end - timedelta(minutes=5), end, Decimal("7.5"))
    assert within == {datetime(2026, 1, 5, 11, tzinfo=UTC): Decimal("7.5")}
    assert split_across_hours(end, end, Decimal(3)) == {datetime(2026, 1, 5, 11, tzinfo=UTC): 3}


def test_spread_counters_splits_counters_and_keeps_gauges() -> None:
    hour = datetime(2026, 1, 5, 11, tzinfo=UTC)
    since = datetime(2026, 1, 5, 10, 50, tzinfo=UTC)
    now = datetime(2026, 1, 5, 11, 10, tzinfo=UTC)
    rows = [
        UsageRow(hour, A, "query_count", "pg_stat_statements", Decimal(101)),
        UsageRow(hour, A, "compute_seconds", "pg_stat_statements", Decimal("3")),
        UsageRow(hour, A, "storage_bytes", "database_size", Decimal(5000)),
        UsageRow(hour, A, "connections_peak", "pg_stat_activity", Decimal(4)),
    ]
    out = {(r.hour.hour, r.metric): r.quantity for r in spread_counters(rows, since, now)}
    # 10 minutes in each hour: halves; 101 queries -> 50 (rounded) + the remaining 51
    assert out == {
        (10, "query_count"): Decimal(50),
        (11, "query_count"): Decimal(51),
        (10, "compute_seconds"): Decimal("1.5"),
        (11, "compute_seconds"): Decimal("1.5"),
        (11, "storage_bytes"): Decimal(5000),
        (11, "connections_peak"): Decimal(4),
    }


# ---- the fallback chain -----------------------------------------------------------------------
def test_compute_source_chain() -> None:
    assert (
        choose_compute_source(sampler_running=True, kcache=True, statements=True)
        == "backend_sampler"
    )
    assert (
        choose_compute_source(sampler_running=False, kcache=True, statements=True)
        == "pg_stat_kcache"
    )
    assert (
        choose_compute_source(sampler_running=False, kcache=False, statements=True)
        == "pg_stat_statements"
    )
    assert choose_compute_source(sampler_running=False, kcache=False, statements=False) == "none"


def test_sampler_unavailable_when_the_backend_is_not_under_the_proc_root(tmp_path: Path) -> None:
    class FakeConn:
        closed = False

        def execute(self, query: str) -> FakeConn:
            return self

        def fetchone(self) -> dict[str, int]:
            return {"pid": 4242}

    sampler = BackendSampler(FakeConn, proc_root=tmp_path)
    assert not sampler.start()
    assert "not visible" in (sampler.unavailable or "")
    assert sampler.describe().startswith("backend sampler unavailable")


# ---- the backend tag ---------------------------------------------------------------------------
def test_tagged_app_name() -> None:
    assert tagged_app_name("web", A) == f"web tc:{A}"
    assert tagged_app_name(f"web tc:{B}", A) == f"web tc:{A}"  # switching tenants
    assert tagged_app_name(f"web tc:{B}", None) == "web"
    assert tagged_app_name("", A) == f"tc:{A}"
    long = tagged_app_name("x" * 80, A)
    # 63 bytes at most: 39 for "tc:<uuid>", 1 space, 23 of the own name
    assert len(long.encode()) == 63 and long == "x" * 23 + f" tc:{A}"


@pytest.mark.parametrize("name", [f"tc:{A}", f"api tc:{A}"])
def test_the_sampler_reads_the_tag_the_library_writes(name: str) -> None:
    assert tag_of(tagged_app_name(name, B), None) == B


# ---- ticks end to end on a fake proc root and a fake pg_stat_activity ---------------------------
class FakeActivity:
    """Answers the sampler's two queries from a list of rows the test changes."""

    def __init__(self, own_pid: int) -> None:
        self.own_pid = own_pid
        self.rows: list[dict[str, object]] = []
        self.now = T0
        self.closed = False

    def execute(self, query: str) -> FakeActivity:
        self._last = query
        return self

    def fetchone(self) -> dict[str, int]:
        return {"pid": self.own_pid}

    def fetchall(self) -> list[dict[str, object]]:
        return [{**r, "now": self.now} for r in self.rows]

    def close(self) -> None:
        self.closed = True

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield


def act_row(pid: int, backend_type: str, datname: str | None, app: str = "") -> dict[str, object]:
    return {
        "pid": pid,
        "backend_type": backend_type,
        "datname": datname,
        "usename": "u",
        "application_name": app,
        "state": "active",
        "leader_pid": None,
        "xact_start": None,
        "query_start": None,
        "state_change": None,
        "query": "SELECT 1",
    }


def test_ticks_on_a_fake_proc_root(tmp_path: Path) -> None:
    pm, own, b1, bg, logger = 1, 50, 60, 70, 80

    def proc(pid: int, ppid: int, ticks: int, start: int, sched_ms: int, **kw: int) -> None:
        make_proc(tmp_path, pid, stat_line(pid, "postgres", ppid, ticks, 0, start, **kw))
        (tmp_path / str(pid) / "schedstat").write_text(f"{sched_ms * MS} 0 0\n")

    def children(pids: list[int]) -> None:
        d = tmp_path / str(pm) / "task" / str(pm)
        d.mkdir(parents=True, exist_ok=True)
        (d / "children").write_text(" ".join(map(str, pids)))

    (tmp_path / "uptime").write_text("100.00 50.00\n")  # 10,000 ticks since boot
    proc(pm, 0, 0, 5, 0, cutime=0)
    proc(own, pm, 0, 9000, 0)
    proc(b1, pm, 0, 9000, 100)  # started before the sampler: a baseline at 100 ms
    proc(bg, pm, 0, 500, 1000)
    proc(logger, pm, 0, 400, 5)
    children([own, b1, bg, logger])
    fake = FakeActivity(own)
    fake.rows = [
        act_row(own, "client backend", "tenantcost"),
        act_row(b1, "client backend", "db_a"),
        act_row(bg, "checkpointer", None),
    ]
    sampler = BackendSampler(
        lambda: fake, proc_root=tmp_path, tenant_map_loader=lambda c: TenantMap({"db_a": A})
    )
    sampler.reader.clk_tck, sampler.reader.tick_ns = 100, 10 * MS
    assert sampler.probe() and sampler.postmaster_pid == pm
    sampler.tick()  # the baseline
    assert sampler.take().ticks == 0

    # 1 s later: b1 +40 ms; a new backend b2 for tenant B (tag) used 30 ms; the checkpointer
    # +5 ms; the logger (never listed) is seen unlisted for the first time: not counted yet
    fake.now = T0 + timedelta(seconds=1)
    (tmp_path / "uptime").write_text("101.00 50.00\n")
    proc(b1, pm, 0, 9000, 140)
    proc(61, pm, 0, 10050, 30)
    proc(bg, pm, 0, 500, 1005)
    proc(logger, pm, 0, 400, 7)
    children([own, b1, 61, bg, logger])
    fake.rows.append(act_row(61, "client backend", "shared", app=f"api tc:{B}"))
    sampler.tick()
    # 2 s: b1 leaves pg_stat_activity but is still a child (exiting): +10 ms stays A's;
    # b2 exits for good (reaped: the postmaster's cutime grows by its 45 ms total = 4.5
    # ticks, rounded to 5 ticks = 50 ms: 20 ms after its last reading of 30 ms); the
    # logger, unlisted twice, is background from now on (+1 ms)
    fake.now = T0 + timedelta(seconds=2)
    proc(b1, pm, 0, 9000, 150)
    proc(pm, 0, 0, 5, 0, cutime=5)
    proc(logger, pm, 0, 400, 8)
    (tmp_path / "61" / "stat").unlink()
    children([own, b1, bg, logger])
    fake.rows = [r for r in fake.rows if r["pid"] not in (b1, 61)]
    sampler.tick()
    acc = sampler.take()
    got = {(r.tenant_id, r.metric): r.quantity for r in acc.rows()}
    # A: 40 + 10 ms; B: 30 ms + the exit tail (bound: its rate 30 ms/s x 1 s = 30 ms, so
    # all 20 ms); background: 5 ms checkpointer + 8 - 7 = 1 ms logger (first counted from
    # its reading at 7 ms, as it started before the sampler)
    assert got == {
        (A, "compute_seconds"): Decimal("0.05"),
        (B, "compute_seconds"): Decimal("0.05"),
        (None, "background_cpu_seconds"): Decimal("0.006"),  # 5 + 1 ms
    }
    assert acc.ticks == 2 and acc.tails == Decimal("0.02") and acc.exited == 0
