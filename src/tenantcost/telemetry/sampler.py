"""Backend CPU sampler: per-tenant CPU read from the kernel, one backend at a time (issue 12).

Every ``interval`` seconds (setting ``sampler_interval``, default 1 s) the sampler

1. runs one query on ``pg_stat_activity`` (pid, database, role, ``application_name``,
   backend type, ``leader_pid``, state, transaction start and the running query), and
2. reads each of those processes' CPU time from the kernel under ``proc_root``
   (``/proc/<pid>/schedstat`` first field, nanoseconds on CPU, when present; else
   ``/proc/<pid>/stat`` utime + stime in clock ticks), keyed by pid *and* process start
   time (field 22 of ``stat``) so a reused pid never gives a negative or doubled delta,

and attributes each backend's CPU delta since the previous tick to whom it served
(``attribute_tick``, pure):

- **tenant**: a client backend's tag (``tc:<uuid>`` in ``application_name``, or a
  ``/*tenant_id='<uuid>'*/`` comment in its query text, set by the tagging library),
  else the tenant mapping (database, then role: ``TenantMap.resolve``). Parallel workers
  go to their leader's tenant (``leader_pid``).
- **unattributed** (tenant NULL): client backends no tag or mapping resolves (tenantcost's
  own sessions among them), and CPU of processes that exited between two ticks (below).
- **background**: every other server process (autovacuum, checkpointer, WAL writer,
  background writer, WAL senders, I/O workers, the postmaster itself, and postmaster
  children ``pg_stat_activity`` does not list, such as the logger).

**Tenant changes between two ticks.** A backend seen serving tenant A at the start and B at
the end: when it was idle at the start (A's work had finished), everything goes to B; when
it was busy for A at the start and B's transaction (or query) began at a known moment inside
the interval, the delta is split in proportion to time around that moment; otherwise it
goes to B, the later tenant. Sampling a pooled connection that switches tenants many
times a second is a statistical estimate (the tenant at the tick stands for the interval).

**Exited processes.** A backend that disappears is read one last time while it is still in
``/proc``; what it spent after its last reading is lost from ``/proc``. The postmaster's
``cutime + cstime`` grows by each reaped child's total CPU, so growth minus the last
readings of the children that went away is CPU no tick saw: it is booked as **exited
(unattributed)**, tenant NULL, and counted in ``exited_seconds`` — never spread over tenants.

Accumulated seconds are split across the UTC hours each tick covers and handed to the
collector (``take`` / ``restore``), which writes them into ``tenant_usage_hourly`` as
``compute_seconds`` / ``background_cpu_seconds``, source ``backend_sampler``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from uuid import UUID

from tenantcost.telemetry.mapping import TenantMap
from tenantcost.telemetry.timeutil import split_across_hours

log = logging.getLogger("tenantcost.telemetry.sampler")

SOURCE: Final = "backend_sampler"
# On a Citus coordinator: its backends plus the workers' backends serving its sessions.
CLUSTER_SOURCE: Final = "citus_cluster_sampler"
BACKGROUND: Final = "background"
NS = Decimal(1_000_000_000)
Owner = UUID | str | None  # a tenant, BACKGROUND, or None (unattributed)

TAG_RE = re.compile(
    r"tc:([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
)
COMMENT_RE = re.compile(
    r"/\*[^*]*?tenant_id\s*=\s*'?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})'?"
)
# A Citus worker backend serving a coordinator session: its global pid is
# nodeid x 10^10 + the coordinator backend's pid (citus_backend_gpid()).
GPID_RE = re.compile(r"^citus_internal gpid=(\d+)$")
GPID_NODE = 10**10
BUSY_STATES = frozenset({"active", "idle in transaction", "idle in transaction (aborted)"})


# ---- the kernel's view ---------------------------------------------------------------------
@dataclass(frozen=True)
class StatFields:
    """The fields of ``/proc/<pid>/stat`` the sampler uses (times in clock ticks)."""

    comm: str
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int
    starttime: int


def parse_stat(text: str) -> StatFields:
    """``/proc/<pid>/stat``; the command name may hold spaces and parentheses."""
    left, right = text.find("("), text.rfind(")")
    comm = text[left + 1 : right]
    rest = text[right + 2 :].split()  # rest[0] is field 3 (state): field n is rest[n - 3]
    return StatFields(
        comm=comm,
        ppid=int(rest[1]),
        utime=int(rest[11]),
        stime=int(rest[12]),
        cutime=int(rest[13]),
        cstime=int(rest[14]),
        starttime=int(rest[19]),
    )


@dataclass(frozen=True)
class ProcCpu:
    """One process's cumulative CPU time: identity (pid, start time) and nanoseconds."""

    pid: int
    start: int
    cpu_ns: int


class ProcReader:
    """Reads CPU times under a proc root (``/proc``, or a fake tree in tests)."""

    def __init__(self, root: Path | str = "/proc", *, clk_tck: int | None = None) -> None:
        self.root = Path(root)
        self.clk_tck = clk_tck or os.sysconf("SC_CLK_TCK")
        self.tick_ns = 1_000_000_000 // self.clk_tck
        self._prefix = f"{self.root}/"
        self.schedstat = (self.root / "self" / "schedstat").exists() or any(
            True for _ in self.root.glob("[0-9]*/schedstat")
        )

    @property
    def resolution(self) -> str:
        if self.schedstat:
            return "schedstat (ns)"
        return f"stat utime+stime ({self.clk_tck} ticks/s)"

    def stat(self, pid: int) -> StatFields | None:
        try:
            with open(f"{self._prefix}{pid}/stat") as f:
                return parse_stat(f.read())
        except (OSError, ValueError, IndexError):
            return None

    def cpu(self, pid: int) -> ProcCpu | None:
        """The process's own CPU time, or None when it is gone."""
        fields = self.stat(pid)
        if fields is None:
            return None
        if self.schedstat:
            # read right after stat: a pid cannot be reused within microseconds (the
            # kernel hands out pids in order and wraps only after pid_max new processes)
            try:
                with open(f"{self._prefix}{pid}/schedstat") as f:
                    ns = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                return None
            return ProcCpu(pid, fields.starttime, ns)
        return ProcCpu(pid, fields.starttime, (fields.utime + fields.stime) * self.tick_ns)

    def children_cpu_ns(self, fields: StatFields) -> int:
        """CPU of a process's reaped children (cutime + cstime), in nanoseconds."""
        return (fields.cutime + fields.cstime) * self.tick_ns

    def children(self, pid: int) -> list[int] | None:
        """Live children of ``pid`` (``task/<pid>/children``), None when the kernel lacks it."""
        try:
            text = (self.root / str(pid) / "task" / str(pid) / "children").read_text()
        except OSError:
            return None
        return [int(p) for p in text.split()]


# ---- who a backend serves ---------------------------------------------------------------
@dataclass(frozen=True)
class Activity:
    """One ``pg_stat_activity`` row, as the sampler needs it."""

    pid: int
    backend_type: str
    datname: str | None = None
    usename: str | None = None
    application_name: str | None = None
    query: str | None = None
    state: str | None = None
    leader_pid: int | None = None
    started: datetime | None = None  # xact_start, else query_start
    state_change: datetime | None = None

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> Activity:
        return cls(
            pid=int(r["pid"]),
            backend_type=r["backend_type"] or "",
            datname=r["datname"],
            usename=r["usename"],
            application_name=r["application_name"],
            query=r["query"],
            state=r["state"],
            leader_pid=r["leader_pid"],
            started=r["xact_start"] or r["query_start"],
            state_change=r.get("state_change"),
        )

    @property
    def busy(self) -> bool:
        return self.state in BUSY_STATES


def tag_of(application_name: str | None, query: str | None) -> UUID | None:
    """The tenant tag a backend carries: ``tc:<uuid>`` in its application_name, else a
    ``/*… tenant_id='<uuid>' …*/`` comment in its current (or last) query."""
    for text, pattern in ((application_name, TAG_RE), (query, COMMENT_RE)):
        if text:
            match = pattern.search(text)
            if match:
                return UUID(match.group(1))
    return None


def owners(
    activities: Iterable[Activity],
    tenant_map: TenantMap,
    linked: Callable[[int], Owner] | None = None,
) -> dict[int, Owner]:
    """pid -> tenant / BACKGROUND / None for one sample (pure). ``linked``: on a Citus
    worker, the owner of the coordinator session a ``citus_internal gpid=…`` backend serves."""
    acts = list(activities)
    out: dict[int, Owner] = {}
    for a in acts:
        if a.backend_type == "client backend":
            served = GPID_RE.match(a.application_name or "") if linked is not None else None
            owner = linked(int(served.group(1))) if linked is not None and served else None
            out[a.pid] = (
                owner
                or tag_of(a.application_name, a.query)
                or tenant_map.resolve(a.datname, a.usename)
            )
        elif a.backend_type != "parallel worker":
            out[a.pid] = BACKGROUND
    for a in acts:
        if a.backend_type == "parallel worker":
            leader = out.get(a.leader_pid) if a.leader_pid is not None else None
            if leader is None:
                leader = tag_of(a.application_name, a.query) or tenant_map.resolve(
                    a.datname, a.usename
                )
            out[a.pid] = leader
    return out


# ---- the arithmetic (pure) ----------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    """What the previous tick knew about a process."""

    start: int
    cpu_ns: int
    owner: Owner
    busy: bool = False
    rate: float = 0.0  # CPU ns per second over the last interval (for exit tails)


@dataclass
class TickResult:
    """CPU nanoseconds per owner for one interval, and the new per-process state."""

    cpu_ns: dict[Owner, int] = field(default_factory=dict)
    exited_ns: int = 0
    tails_ns: int = 0
    seen: dict[int, Seen] = field(default_factory=dict)
    exit_balance_ns: int = 0
    postmaster_children_ns: int | None = None

    def add(self, owner: Owner, ns: int) -> None:
        if ns > 0:
            self.cpu_ns[owner] = self.cpu_ns.get(owner, 0) + ns


def split_delta(
    delta_ns: int,
    before: Seen,
    owner: Owner,
    started: datetime | None,
    t0: datetime,
    t1: datetime,
) -> dict[Owner, int]:
    """One backend's delta over [t0, t1] by owner (pure; see the module docstring)."""
    if delta_ns <= 0:
        return {}
    if before.owner == owner or not before.busy:
        return {owner: delta_ns}
    if started is not None and t0 < started < t1:
        later = (
            delta_ns
            * int((t1 - started).total_seconds() * 1e6)
            // max(1, int((t1 - t0).total_seconds() * 1e6))
        )
        return {before.owner: delta_ns - later, owner: later}
    return {owner: delta_ns}


def attribute_tick(
    previous: Mapping[int, Seen],
    current: Mapping[int, tuple[ProcCpu, Owner, bool, datetime | None]],
    leaving: Mapping[int, ProcCpu | None],
    *,
    t0: datetime,
    t1: datetime,
    postmaster_children_before: int | None,
    postmaster_children_now: int | None,
    exit_balance_ns: int = 0,
    sampler_started: int | None = None,
    estimate_tails: bool = True,
) -> TickResult:
    """Attribute one interval (pure).

    ``previous``: per pid, the last tick's reading and owner. ``current``: per pid seen now,
    (reading, owner, busy, start of its transaction). ``leaving``: pids known before but not
    listed now, read once more (None when gone from /proc). ``postmaster_children_*``: the
    postmaster's cutime+cstime (ns) at the two ticks. ``exit_balance_ns``: growth of the
    children counter not yet matched by last readings (carried so that a child reaped after
    the tick that saw it go never makes the figure negative). ``sampler_started``: the start
    time (ticks since boot) of the first tick; a process started before it and never seen
    counts from its reading (a baseline), one started after counts from zero.
    ``estimate_tails``: give the exited remainder to the owners of the processes that went
    away, each at most its last CPU rate x the interval, in proportion to that bound; what
    is left (processes no tick saw) stays unattributed.
    """
    result = TickResult(exit_balance_ns=exit_balance_ns)
    gone: list[Seen] = []
    dt = max((t1 - t0).total_seconds(), 0.0)
    for pid, (cpu, owner, busy, started) in current.items():
        before = previous.get(pid)
        if before is not None and before.start != cpu.start:  # pid reused: the old one exited
            gone.append(before)
            before = None
        if before is None:
            if sampler_started is not None and cpu.start <= sampler_started:
                result.seen[pid] = Seen(cpu.start, cpu.cpu_ns, owner, busy)
                continue  # running before the sampler started: a baseline
            before = Seen(cpu.start, 0, owner, False)
        delta = cpu.cpu_ns - before.cpu_ns
        for who, ns in split_delta(delta, before, owner, started, t0, t1).items():
            result.add(who, ns)
        rate = max(0, delta) / dt if dt > 0 else 0.0
        result.seen[pid] = Seen(cpu.start, max(cpu.cpu_ns, before.cpu_ns), owner, busy, rate)
    for pid, last in leaving.items():
        before = previous.get(pid)
        if before is None:
            continue
        if last is not None and last.start == before.start:
            result.add(before.owner, last.cpu_ns - before.cpu_ns)
            # still in /proc (exiting, or between listings): keep following it
            result.seen[pid] = Seen(
                before.start,
                max(last.cpu_ns, before.cpu_ns),
                before.owner,
                before.busy,
                before.rate,
            )
        else:
            gone.append(before)
    if postmaster_children_before is not None and postmaster_children_now is not None:
        growth = max(0, postmaster_children_now - postmaster_children_before)
        balance = exit_balance_ns + growth - sum(g.cpu_ns for g in gone)
        remainder = max(0, balance)
        result.exit_balance_ns = min(0, balance)
        if estimate_tails and remainder:
            for owner, ns in exit_tails(remainder, gone, dt).items():
                result.add(owner, ns)
                result.tails_ns += ns
                remainder -= ns
        result.exited_ns = remainder
        result.add(None, remainder)
    result.postmaster_children_ns = postmaster_children_now
    return result


def exit_tails(remainder_ns: int, gone: Iterable[Seen], dt: float) -> dict[Owner, int]:
    """Share of the exited remainder each gone process's owner gets (pure): at most its last
    rate x ``dt`` (it cannot have run longer than the interval), in proportion to that bound,
    never more than the remainder in total. Unattributed owners get nothing here."""
    bounds = [(g.owner, int(g.rate * dt)) for g in gone if g.owner is not None]
    total = sum(b for _, b in bounds)
    if total <= 0 or remainder_ns <= 0:
        return {}
    out: dict[Owner, int] = {}
    for owner, bound in bounds:
        ns = min(bound, remainder_ns * bound // total)
        if ns > 0:
            out[owner] = out.get(owner, 0) + ns
    return out


# ---- accumulating for the collector --------------------------------------------------------
def to_seconds(ns: int) -> Decimal:
    return (Decimal(ns) / NS).quantize(Decimal("0.000001"))


@dataclass(frozen=True)
class SamplerRow:
    hour: datetime
    tenant_id: UUID | None
    metric: str
    quantity: Decimal
    source: str = SOURCE


@dataclass
class Accumulated:
    """Seconds per (hour, owner) since the collector last took them."""

    seconds: dict[tuple[datetime, Owner], Decimal] = field(default_factory=dict)
    exited: Decimal = Decimal(0)
    tails: Decimal = Decimal(0)
    ticks: int = 0
    workers: dict[tuple[datetime, Owner], Decimal] = field(default_factory=dict)  # Citus
    citus: bool = False  # Citus workers were sampled: rows for the whole cluster too

    def add_workers(self, other: Accumulated) -> None:
        """A Citus worker's sampler's seconds, kept apart from the coordinator's."""
        self.citus = True
        for key, value in [*other.seconds.items(), *other.workers.items()]:
            self.workers[key] = self.workers.get(key, Decimal(0)) + value

    def add(self, t0: datetime, t1: datetime, cpu_ns: Mapping[Owner, int]) -> None:
        for owner, ns in cpu_ns.items():
            for hour, part in split_across_hours(t0, t1, to_seconds(ns)).items():
                key = (hour, owner)
                self.seconds[key] = self.seconds.get(key, Decimal(0)) + part

    def merge(self, other: Accumulated) -> None:
        for key, value in other.seconds.items():
            self.seconds[key] = self.seconds.get(key, Decimal(0)) + value
        for key, value in other.workers.items():
            self.workers[key] = self.workers.get(key, Decimal(0)) + value
        self.citus = self.citus or other.citus
        self.exited += other.exited
        self.tails += other.tails
        self.ticks += other.ticks

    def rows(self) -> list[SamplerRow]:
        """The coordinator's (or the one server's) seconds as ``backend_sampler``; with Citus
        workers sampled, the coordinator's and the workers' together as
        ``citus_cluster_sampler`` too."""
        sources = [(self.seconds, SOURCE)]
        if self.citus:
            cluster = dict(self.seconds)
            for key, value in self.workers.items():
                cluster[key] = cluster.get(key, Decimal(0)) + value
            sources.append((cluster, CLUSTER_SOURCE))
        out = []
        for seconds, source in sources:
            for (hour, owner), secs in sorted(seconds.items(), key=lambda kv: repr(kv[0])):
                if owner == BACKGROUND:
                    out.append(SamplerRow(hour, None, "background_cpu_seconds", secs, source))
                else:
                    tenant = owner if isinstance(owner, UUID) else None
                    out.append(SamplerRow(hour, tenant, "compute_seconds", secs, source))
        return out


ACTIVITY_SQL = """
SELECT pid, backend_type, datname, usename, application_name, state, leader_pid,
       xact_start, query_start, state_change, query, clock_timestamp() AS now
  FROM pg_stat_activity
"""


class BackendSampler:
    """Samples a local server's backends on a background thread (or tick by tick)."""

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        interval: float = 1.0,
        proc_root: Path | str = "/proc",
        tenant_map_loader: Callable[[Any], TenantMap] | None = None,
        map_refresh_s: float = 60.0,
        linked: Callable[[int], Owner] | None = None,
        label: str = "",
    ) -> None:
        """``linked``/``label``: a Citus worker's sampler (see ``follow``)."""
        self._connect = connect
        self._linked = linked
        self.label = label
        self.followers: list[BackendSampler] = []
        self.interval = interval
        self.reader = ProcReader(proc_root)
        self._load_map = tenant_map_loader
        self._map_refresh_s = map_refresh_s
        self._conn: Any = None
        self._map = TenantMap()
        self._map_at = -1e18
        self.postmaster_pid: int | None = None
        self.unavailable: str | None = None
        self._seen: dict[int, Seen] = {}
        self._last_t: datetime | None = None
        self._pm_children: int | None = None
        self._pm_own: int | None = None
        self._balance = 0
        self._started_ticks: int | None = None
        self._unlisted: set[int] = set()
        self._acc = Accumulated()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.own_cpu_s = 0.0  # the sampler thread's own CPU, for the overhead figure
        self.errors = 0

    # ---- lifecycle --------------------------------------------------------------------
    def probe(self) -> bool:
        """Connect and find our postmaster under the proc root; False (with ``unavailable``
        saying why) when the server's processes are not visible here."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            row = self._conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
            pid = int(row["pid"] if isinstance(row, Mapping) else row[0])
        except Exception as exc:
            self.unavailable = f"cannot query pg_stat_activity: {exc}"
            return False
        own = self.reader.stat(pid)
        if own is None:
            self.unavailable = (
                f"backend pid {pid} is not visible under {self.reader.root} "
                "(a remote or containerised server)"
            )
            return False
        parent = self.reader.stat(own.ppid)
        if parent is None or ("postgres" not in parent.comm and "postmaster" not in parent.comm):
            self.unavailable = f"the parent of backend {pid} is not a PostgreSQL postmaster"
            return False
        self.postmaster_pid = own.ppid
        self.unavailable = None
        return True

    def start(self) -> bool:
        """Probe and start the background thread; False when sampling is not possible."""
        if not self.probe():
            return False
        self.tick()  # the baseline
        self._thread = threading.Thread(target=self._run, name="tenantcost-sampler", daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            cpu0 = time.thread_time()
            try:
                self.tick()
            except Exception:  # a failing tick is logged; the next one tries again
                self.errors += 1
                log.exception("sampler tick failed")
                self._close_conn()
            self.own_cpu_s += time.thread_time() - cpu0

    def stop(self, final_tick: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if final_tick and self.postmaster_pid is not None:
            try:
                self.tick()
            except Exception:
                log.exception("final sampler tick failed")
        self._close_conn()
        for worker in self.followers:
            worker._close_conn()

    def _close_conn(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    # ---- one tick ---------------------------------------------------------------------
    def _tenant_map(self) -> TenantMap:
        if self._load_map is not None and time.monotonic() - self._map_at > self._map_refresh_s:
            with self._conn.transaction():
                self._map = self._load_map(self._conn)
            self._map_at = time.monotonic()
        return self._map

    def tick(self) -> None:
        if self.postmaster_pid is None and not self.probe():
            return
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        tenant_map = self._tenant_map()
        rows = self._conn.execute(ACTIVITY_SQL).fetchall()
        acts = [Activity.from_row(r) for r in rows]
        now: datetime = rows[0]["now"].astimezone(UTC) if rows else datetime.now(UTC)
        assert self.postmaster_pid is not None
        pm = self.reader.stat(self.postmaster_pid)
        if pm is None:  # the server restarted: start over
            self.postmaster_pid = None
            self._seen, self._last_t, self._pm_children, self._pm_own = {}, None, None, None
            return
        pm_children = self.reader.children_cpu_ns(pm)
        pm_own = (pm.utime + pm.stime) * self.reader.tick_ns
        who = owners(acts, tenant_map, self._linked)
        listed = {a.pid for a in acts}
        kids = self.reader.children(self.postmaster_pid)
        if kids is not None:  # children pg_stat_activity does not list
            unlisted: set[int] = set()
            for pid in kids:
                if pid in listed:
                    continue
                unlisted.add(pid)
                if pid in self._seen:  # a backend on its way out: still its tenant's
                    who[pid] = self._seen[pid].owner
                elif pid in self._unlisted:  # unlisted twice running: the logger and such
                    who[pid] = BACKGROUND
                # else: maybe a backend still authenticating; it counts from zero once listed
            self._unlisted = unlisted
        current: dict[int, tuple[ProcCpu, Owner, bool, datetime | None]] = {}
        acts_by_pid = {a.pid: a for a in acts}
        kid_set = set(kids) if kids is not None else None
        for pid, owner in who.items():
            if kid_set is not None and pid not in kid_set:
                continue  # not ours (another server's pid namespace) or already gone
            a = acts_by_pid.get(pid)
            before = self._seen.get(pid)
            if (
                before is not None
                and a is not None
                and self._last_t is not None
                and a.state == "idle"
                and a.state_change is not None
                and a.state_change < self._last_t
            ):  # idle since before the last tick: no CPU to read (saves the /proc reads)
                current[pid] = (ProcCpu(pid, before.start, before.cpu_ns), owner, False, None)
                continue
            cpu = self.reader.cpu(pid)
            if cpu is None:
                continue
            current[pid] = (cpu, owner, a.busy if a else False, a.started if a else None)
        leaving = {pid: self.reader.cpu(pid) for pid in self._seen if pid not in current}
        if self._started_ticks is None:
            uptime = self._uptime_ticks()
            self._started_ticks = uptime
        if self._last_t is None:
            result = attribute_tick(
                {},
                current,
                {},
                t0=now,
                t1=now,
                postmaster_children_before=None,
                postmaster_children_now=pm_children,
                sampler_started=self._started_ticks,
            )
        else:
            result = attribute_tick(
                self._seen,
                current,
                leaving,
                t0=self._last_t,
                t1=now,
                postmaster_children_before=self._pm_children,
                postmaster_children_now=pm_children,
                exit_balance_ns=self._balance,
                sampler_started=self._started_ticks,
            )
            if self._pm_own is not None and pm_own > self._pm_own:
                result.add(BACKGROUND, pm_own - self._pm_own)
            with self._lock:
                self._acc.add(self._last_t, now, result.cpu_ns)
                self._acc.exited += to_seconds(result.exited_ns)
                self._acc.tails += to_seconds(result.tails_ns)
                self._acc.ticks += 1
        self._seen = result.seen
        self._balance = result.exit_balance_ns
        self._pm_children, self._pm_own, self._last_t = pm_children, pm_own, now
        self._tick_followers()

    # ---- Citus workers on this machine ------------------------------------------------
    def owner_of(self, pid: int) -> Owner:
        """Whom a backend served at the last tick (None when not seen)."""
        seen = self._seen.get(pid)
        return seen.owner if seen is not None else None

    def follow(self, worker: BackendSampler) -> bool:
        """Sample a Citus worker's backends on this sampler's ticks (right after its own, so
        the coordinator sessions they serve are current); False when its processes are not
        visible here."""
        if not worker.probe():
            return False
        self.followers.append(worker)
        return True

    def _tick_followers(self) -> None:
        for worker in self.followers:
            try:
                worker.tick()
            except Exception:  # one worker failing leaves the others and the coordinator
                worker.errors += 1
                log.exception("sampler tick on worker %s failed", worker.label)
                worker._close_conn()
            taken = worker.take()
            with self._lock:
                self._acc.add_workers(taken)

    def _uptime_ticks(self) -> int:
        try:
            seconds = float((self.reader.root / "uptime").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0
        return int(seconds * self.reader.clk_tck)

    # ---- handing over to the collector ------------------------------------------------
    def take(self) -> Accumulated:
        """What was accumulated since the last take (the collector writes it)."""
        with self._lock:
            acc, self._acc = self._acc, Accumulated()
        return acc

    def restore(self, acc: Accumulated) -> None:
        """Put back what a failed collector pass could not write."""
        with self._lock:
            acc.merge(self._acc)
            self._acc = acc

    def describe(self) -> str:
        if self.postmaster_pid is None:
            return f"backend sampler unavailable: {self.unavailable}"
        text = (
            f"backend sampler: kernel CPU per backend every {self.interval:g} s "
            f"({self.reader.resolution}) of postmaster {self.postmaster_pid} (measured)"
        )
        if self.followers:
            text += "; Citus workers' backends by the coordinator session they serve: " + ", ".join(
                f"{w.label} (postmaster {w.postmaster_pid})" for w in self.followers
            )
        return text


__all__ = [
    "BACKGROUND",
    "SOURCE",
    "Accumulated",
    "Activity",
    "BackendSampler",
    "ProcCpu",
    "ProcReader",
    "Seen",
    "attribute_tick",
    "local_sampler",
    "owners",
    "parse_stat",
    "split_delta",
    "start_sampler",
    "tag_of",
]


def local_sampler(conn: Any, *, interval: float | None = None) -> BackendSampler:
    """A sampler on its own autocommit connection to ``conn``'s server and database, with
    the settings' interval and proc root, re-reading the tenant mapping every minute."""
    from psycopg.conninfo import make_conninfo

    from tenantcost.config import get_settings
    from tenantcost.db.connect import connect
    from tenantcost.telemetry.mapping import load_map

    settings = get_settings()
    password = conn.info.password
    url = make_conninfo(conn.info.dsn, **({"password": password} if password else {}))
    return BackendSampler(
        lambda: connect(url, autocommit=True),
        interval=interval if interval is not None else settings.sampler_interval,
        proc_root=settings.proc_root,
        tenant_map_loader=load_map,
    )


def start_sampler(conn: Any) -> tuple[BackendSampler | None, str]:
    """A running sampler for ``conn``'s server, or None and why not (a remote server, or
    processes not visible here: compute then comes from pg_stat_kcache or execution time)."""
    from tenantcost.telemetry.host import is_local

    if not is_local(conn):
        return None, "the server is remote (no /proc access)"
    sampler = local_sampler(conn)
    if not sampler.start():
        return None, sampler.unavailable or "unavailable"
    notes = follow_citus_workers(sampler, conn)
    return sampler, "; ".join([sampler.describe(), *notes])


def follow_citus_workers(sampler: BackendSampler, conn: Any) -> list[str]:
    """On a Citus coordinator, a sampler for each worker whose processes are visible here
    (same machine): its backends serving a coordinator session (``citus_internal gpid=``)
    go to that session's owner. Returns notes on the workers that cannot be sampled."""
    import psycopg

    from tenantcost.config import get_settings
    from tenantcost.telemetry.citus_workers import connect_worker, worker_conninfo
    from tenantcost.telemetry.host import LOCAL_HOSTS
    from tenantcost.telemetry.mapping import sql

    try:
        with conn.transaction():
            if conn.execute(sql("extension"), {"name": "citus"}).fetchone() is None:
                return []
            node = conn.execute(sql("citus_coordinator_node")).fetchone()
            nodes = conn.execute(sql("citus_worker_nodes")).fetchall()
    except psycopg.Error as exc:
        return [f"Citus workers not sampled: {exc.diag.message_primary or exc}"]
    settings = get_settings()
    # a coordinator not in pg_dist_node stamps its sessions with Citus's placeholder node id
    coordinator = int(node["nodeid"]) if node is not None else 99_999_999

    def linked(gpid: int) -> Owner:
        if gpid // GPID_NODE != coordinator:
            return None
        return sampler.owner_of(gpid % GPID_NODE)

    notes: list[str] = []
    for n in nodes:
        host, port = str(n["nodename"]), int(n["nodeport"])
        label = f"{host}:{port}"
        if host not in LOCAL_HOSTS:
            notes.append(f"worker {label} not sampled: not on this machine")
            continue
        worker = BackendSampler(
            functools.partial(connect_worker, worker_conninfo(conn, host, port, settings)),
            interval=sampler.interval,
            proc_root=sampler.reader.root,
            linked=linked,
            label=label,
        )
        if not sampler.follow(worker):
            notes.append(f"worker {label} not sampled: {worker.unavailable}")
    return notes
