"""Per-tenant CPU accuracy and sampler overhead (issue 12), on a throw-away embedded cluster.

Accuracy: pgbench (a real client, /usr/bin/pgbench) drives tenants A and B (C stays idle) in
four workload shapes, each quiet and with CPU-bound processes competing for the cores, in
three modes: database per tenant, role per tenant (one database), and shared tables (one
database and role; each pgbench session carries the tagging library's tag
``application_name = tc:<tenant>`` through ``PGAPPNAME``). Per case it compares each
tenant's *true* share of CPU with the share attributed by

- the backend sampler (``tenantcost.telemetry.sampler``, at the default 1 s interval), and
- ``pg_stat_statements`` execution time (today's fallback; pg_stat_kcache is not in the
  embedded build, so its column is n/a).

Ground truth is a separate code path: a 20 Hz psutil poller reads every postmaster child's
user + system time and its process title (``postgres: user database host(port) …``),
keeping each session's last reading, so it knows the CPU of every pgbench session up to
its last 50 ms. Sessions go to tenants by database (database mode), by user (role mode),
or by client port (shared mode: one pgbench process per tenant, its sockets' ports).

Overhead: the sampler's own CPU with ~200 backends at 1 Hz, and ``pgbench -S`` TPS with the
sampler on and off, A/B interleaved.

``python -m bench cpu-accuracy [--seconds 5] [--json bench/results/cpu_accuracy.json]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench import machine
from tenantcost.db import migrate
from tenantcost.db.connect import connect
from tenantcost.db.embedded import EmbeddedServer
from tenantcost.telemetry.mapping import load_map, map_tenant
from tenantcost.telemetry.sampler import BackendSampler

PGBENCH = "/usr/bin/pgbench"
HEAVY = "SELECT sum(abalance), count(*), avg(aid) FROM pgbench_accounts;\n"
SHAPES: dict[str, tuple[list[str], list[str]]] = {
    # shape: (tenant A's pgbench arguments, tenant B's)
    "select-only": (["-S", "-c", "4", "-j", "2"], ["-S", "-c", "1"]),
    "tpcb": (["-c", "4", "-j", "2"], ["-c", "1"]),
    "analytic": (["-f", "{heavy}", "-c", "4", "-j", "2"], ["-f", "{heavy}", "-c", "1"]),
    "tiny-vs-heavy": (["-S", "-c", "3", "-j", "1"], ["-f", "{heavy}", "-c", "1"]),
}
MODES = ("database", "role", "shared")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=int, default=5, help="pgbench -T per case.")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="Comma-separated shapes.")
    parser.add_argument("--modes", default=",".join(MODES), help="Comma-separated modes.")
    parser.add_argument("--interval", type=float, default=1.0, help="Sampler interval, s.")
    parser.add_argument("--backends", type=int, default=190, help="Idle backends (overhead).")
    parser.add_argument("--ab-rounds", type=int, default=8, help="TPS rounds on and off each.")
    parser.add_argument(
        "--only",
        choices=("all", "pgbench", "library", "overhead"),
        default="all",
        help="Run one part: pgbench cases, tagging-library cases, or the overhead figures.",
    )
    parser.add_argument("--json", type=Path, default=None, help="Write the results here.")


@dataclass(frozen=True)
class Server:
    url: str
    host: str
    port: str
    user: str
    password: str

    def db_url(self, database: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + database


# ---- ground truth: a separate code path ---------------------------------------------------
class TruthPoller:
    """psutil at 20 Hz over the postmaster's children: each session's last CPU reading."""

    def __init__(self, postmaster: int, interval: float = 0.05) -> None:
        self.pm = psutil.Process(postmaster)
        self.interval = interval
        self.last: dict[tuple[int, float], float] = {}
        self.first: dict[tuple[int, float], float] = {}
        self.port_of: dict[tuple[int, float], str] = {}
        self.title: dict[tuple[int, float], str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _poll(self, *, baseline: bool = False) -> None:
        for child in self.pm.children():
            try:
                with child.oneshot():
                    key = (child.pid, child.create_time())
                    t = child.cpu_times()
                    cpu = t.user + t.system
                    if "(" not in self.title.get(key, ""):  # until the backend has set
                        # its title ("postgres: user db host(port) …"): a new child starts
                        # with the postmaster's command line
                        self.title[key] = " ".join(child.cmdline())
                if baseline:
                    self.first[key] = cpu
                self.last[key] = cpu
            except psutil.Error:
                continue

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._poll()

    def start(self) -> None:
        self._poll(baseline=True)
        self._thread.start()

    def stop(self) -> None:
        self._poll()
        self._stop.set()
        self._thread.join()

    def per_session(self) -> dict[tuple[int, float], tuple[str, float]]:
        return {
            key: (self.title.get(key, ""), cpu - self.first.get(key, 0.0))
            for key, cpu in self.last.items()
        }


@contextmanager
def competing(n: int) -> Iterator[None]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def pgbench(
    server: Server,
    database: str,
    user: str,
    password: str,
    args: list[str],
    env_extra: dict[str, str],
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PGPASSWORD": password, **env_extra}
    return subprocess.Popen(
        [PGBENCH, "-h", server.host, "-p", server.port, "-U", user, "-n", *args, database],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


# ---- setup --------------------------------------------------------------------------------
def setup(server: Server, tenants: dict[str, UUID]) -> None:
    env = {**os.environ, "PGPASSWORD": server.password}
    with psycopg.connect(server.db_url("postgres"), autocommit=True) as admin:
        for name in ("a", "b", "c", "shared"):
            admin.execute(f"DROP DATABASE IF EXISTS bench_{name}")
            admin.execute(f"CREATE DATABASE bench_{name}")
        for name in ("a", "b", "c"):
            admin.execute(f"DROP ROLE IF EXISTS bench_role_{name}")
            admin.execute(f"CREATE ROLE bench_role_{name} LOGIN PASSWORD 'bench-{name}'")
    for db in ("bench_a", "bench_b", "bench_c", "bench_shared"):
        subprocess.run(
            [
                PGBENCH,
                "-i",
                "-q",
                "-s",
                "1",
                "-h",
                server.host,
                "-p",
                server.port,
                "-U",
                server.user,
                db,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
    with psycopg.connect(server.db_url("bench_shared"), autocommit=True) as c:
        for name in ("a", "b", "c"):
            c.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO bench_role_{name}")
        c.execute("VACUUM ANALYZE")
    with connect(server.url, autocommit=True) as conn:
        for letter, tid in tenants.items():
            map_tenant(conn, str(tid), "database", f"bench_{letter}")
            map_tenant(conn, str(tid), "role", f"bench_role_{letter}")
            map_tenant(conn, str(tid), "shared", None)


def exec_seconds(server: Server) -> dict[str, float]:
    """Execution + planning ms per (database, role) from pg_stat_statements, in seconds."""
    with psycopg.connect(server.url, autocommit=True) as c:
        rows = c.execute(
            "SELECT d.datname, r.rolname, sum(s.total_exec_time + s.total_plan_time) / 1000 "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "JOIN pg_roles r ON r.oid = s.userid GROUP BY 1, 2"
        ).fetchall()
    return {f"{db}/{role}": float(v) for db, role, v in rows}


def one_case(
    server: Server,
    pm: int,
    tenants: dict[str, UUID],
    shape: str,
    mode: str,
    compete: bool,
    seconds: int,
    interval: float,
    heavy: Path,
) -> dict[str, Any]:
    a_args, b_args = ([x.replace("{heavy}", str(heavy)) for x in args] for args in SHAPES[shape])
    targets: dict[str, tuple[str, str, str, dict[str, str]]] = {}
    for letter in ("a", "b"):
        if mode == "database":
            targets[letter] = (f"bench_{letter}", server.user, server.password, {})
        elif mode == "role":
            targets[letter] = ("bench_shared", f"bench_role_{letter}", f"bench-{letter}", {})
        else:
            app = {"PGAPPNAME": f"pgbench tc:{tenants[letter]}"}
            targets[letter] = ("bench_shared", server.user, server.password, app)
    with psycopg.connect(server.url, autocommit=True) as c:
        c.execute("SELECT pg_stat_statements_reset()")
    sampler = BackendSampler(
        lambda: connect(server.url, autocommit=True), interval=interval, tenant_map_loader=load_map
    )
    truth = TruthPoller(pm)
    with competing(2 if compete else 0):
        time.sleep(0.2)
        truth.start()
        assert sampler.start(), sampler.unavailable
        procs = {
            letter: pgbench(server, db, user, pw, [*args, "-T", str(seconds)], env)
            for letter, (db, user, pw, env), args in (
                ("a", targets["a"], a_args),
                ("b", targets["b"], b_args),
            )
        }
        pgbench_pids = {letter: p.pid for letter, p in procs.items()}
        owner_ports = _client_ports(pgbench_pids, seconds)
        outputs = {letter: p.communicate()[0].decode() for letter, p in procs.items()}
        sampler.stop()
        truth.stop()
    acc = sampler.take()
    got: dict[str, float] = {"a": 0.0, "b": 0.0, "c": 0.0}
    by_id = {tid: letter for letter, tid in tenants.items()}
    unattributed = background = 0.0
    for row in acc.rows():
        q = float(row.quantity)
        if row.metric == "background_cpu_seconds":
            background += q
        elif row.tenant_id is None:
            unattributed += q
        else:
            got[by_id.get(row.tenant_id, "?")] = got.get(by_id.get(row.tenant_id, "?"), 0) + q
    true_cpu = _truth_by_tenant(truth, targets, mode, owner_ports)
    ex = exec_seconds(server)
    exec_by: dict[str, float] = {"a": 0.0, "b": 0.0, "c": 0.0}
    for letter, (db, user, _pw, _env) in targets.items():
        exec_by[letter] = ex.get(f"{db}/{user}", 0.0) if mode != "shared" else float("nan")
    tps = {letter: _tps(out) for letter, out in outputs.items()}
    return {
        "shape": shape,
        "mode": mode,
        "competing": compete,
        "true_cpu_s": true_cpu,
        "sampler_cpu_s": got,
        "exec_time_s": exec_by,
        "true_share": _shares(true_cpu),
        "sampler_share": _shares(got),
        "exec_share": _shares(exec_by) if mode != "shared" else None,
        "sampler_rel_error": _rel(_shares(got), _shares(true_cpu)),
        "exec_rel_error": _rel(_shares(exec_by), _shares(true_cpu)) if mode != "shared" else None,
        "unattributed_s": round(unattributed, 4),
        "exited_unattributed_s": float(acc.exited),
        "exit_tails_estimated_s": float(acc.tails),
        "background_s": round(background, 4),
        "ticks": acc.ticks,
        "tps": tps,
    }


def _client_ports(pids: dict[str, int], seconds: int) -> dict[str, str]:
    """Which tenant owns each client port (shared mode): the pgbench process's sockets."""
    ports: dict[str, str] = {}
    deadline = time.time() + min(2.0, seconds / 2)
    while time.time() < deadline:
        for letter, pid in pids.items():
            try:
                for conn in psutil.Process(pid).net_connections(kind="tcp"):
                    if conn.laddr:
                        ports[str(conn.laddr.port)] = letter
            except psutil.Error:
                continue
        time.sleep(0.2)
    return ports


def _truth_by_tenant(
    truth: TruthPoller,
    targets: dict[str, tuple[str, str, str, dict[str, str]]],
    mode: str,
    ports: dict[str, str],
) -> dict[str, float]:
    """Sessions to tenants by title; parallel workers ("parallel worker for PID n") to
    their leader's tenant."""
    out = {"a": 0.0, "b": 0.0, "c": 0.0}
    tenant_of_pid: dict[int, str] = {}
    workers: list[tuple[int, float]] = []
    for (pid, _created), (title, cpu) in truth.per_session().items():
        # "postgres: user database 127.0.0.1(port) state"
        parts = title.split()
        if "parallel worker for PID" in title:
            workers.append((int(parts[-1]), cpu))
            continue
        if len(parts) < 4 or not parts[0].startswith("postgres:"):
            continue
        user, db, peer = parts[1], parts[2], parts[3]
        for letter, (tdb, tuser, _pw, _env) in targets.items():
            if mode == "shared":
                port = peer.rsplit("(", 1)[-1].rstrip(")")
                mine = db == tdb and ports.get(port) == letter
            else:
                mine = db == tdb and user == tuser
            if mine:
                out[letter] += cpu
                tenant_of_pid[pid] = letter
    for leader, cpu in workers:
        if leader in tenant_of_pid:
            out[tenant_of_pid[leader]] += cpu
    return {k: round(v, 4) for k, v in out.items()}


def _shares(values: dict[str, float]) -> dict[str, float]:
    total = sum(v for v in values.values() if v == v)
    return {k: round(v / total, 4) if total else 0.0 for k, v in values.items()}


def _rel(got: dict[str, float], want: dict[str, float]) -> dict[str, float | None]:
    return {k: round((got[k] - w) / w, 4) if w else None for k, w in want.items()}


def _tps(output: str) -> float | None:
    for line in output.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    return None


# ---- the project's own driver: the tagging library --------------------------------------
def library_case(
    server: Server, tenants: dict[str, UUID], compete: bool, seconds: float, interval: float
) -> dict[str, Any]:
    """Shared database, tenants tagged by the tagging library (``with tenant(…)`` on
    ``tagged_connect`` connections): A runs many tiny queries on 3 connections, B a heavy
    query on 1. Truth: each session's backend CPU read with psutil just before it
    disconnects (a separate code path from the sampler)."""
    from tenantcost.telemetry.tagging import Recorder, tagged_connect, tenant

    recorder = Recorder(None, background=False)
    plan = [("a", "SELECT abalance FROM pgbench_accounts WHERE aid = 1 + %s %% 100000")] * 3 + [
        ("b", HEAVY.strip().rstrip(";"))
    ]
    truth: dict[str, float] = {"a": 0.0, "b": 0.0, "c": 0.0}
    lock = threading.Lock()
    start = threading.Barrier(len(plan) + 1)

    def drive(letter: str, query: str) -> None:
        with tagged_connect(server.db_url("bench_shared"), recorder, autocommit=True) as c:
            backend = psutil.Process(c.info.backend_pid)
            before = sum(backend.cpu_times()[:2])
            start.wait()
            deadline = time.monotonic() + seconds
            i = 0
            with tenant(tenants[letter]):
                while time.monotonic() < deadline:
                    c.execute(query, (i,) if "%s" in query else None)  # type: ignore[arg-type]
                    i += 1
            spent = sum(backend.cpu_times()[:2]) - before
            time.sleep(interval * 1.5)  # let one more tick see the session before it leaves
            with lock:
                truth[letter] += spent

    sampler = BackendSampler(
        lambda: connect(server.url, autocommit=True), interval=interval, tenant_map_loader=load_map
    )
    with competing(2 if compete else 0):
        threads = [threading.Thread(target=drive, args=job) for job in plan]
        for t in threads:
            t.start()
        assert sampler.start(), sampler.unavailable
        start.wait()
        for t in threads:
            t.join()
        sampler.stop()
    acc = sampler.take()
    by_id = {tid: letter for letter, tid in tenants.items()}
    got = {"a": 0.0, "b": 0.0, "c": 0.0}
    for row in acc.rows():
        if row.metric == "compute_seconds" and row.tenant_id in by_id:
            got[by_id[row.tenant_id]] += float(row.quantity)
    truth = {k: round(v, 4) for k, v in truth.items()}
    return {
        "shape": "tiny-vs-heavy",
        "mode": "library",
        "competing": compete,
        "true_cpu_s": truth,
        "sampler_cpu_s": got,
        "true_share": _shares(truth),
        "sampler_share": _shares(got),
        "exec_share": None,
        "sampler_rel_error": _rel(_shares(got), _shares(truth)),
        "exited_unattributed_s": float(acc.exited),
        "ticks": acc.ticks,
    }


def tagging_overhead(server: Server, queries: int = 2000, rounds: int = 15) -> dict[str, Any]:
    """Client CPU (thread time, not wall time) per ``SELECT 1``: plain vs tagged connection
    inside ``with tenant(…)``, paired rounds in alternating order."""
    from tenantcost.telemetry.tagging import Recorder, tagged_connect, tenant

    tid = UUID(int=7)
    recorder = Recorder(None, background=False)
    diffs, plain_us, tagged_us, untagged_us = [], [], [], []
    with (
        psycopg.connect(server.url, autocommit=True) as plain,
        tagged_connect(server.url, recorder, autocommit=True) as tagged,
        tagged_connect(server.url, recorder, autocommit=True, tag_backend=False) as counted,
    ):

        def cpu_per_query(fn: Any) -> float:
            t0 = time.thread_time_ns()
            fn()
            return (time.thread_time_ns() - t0) / queries / 1000

        def select_ones(conn: Any, tenant_id: UUID | None) -> Callable[[], None]:
            def go() -> None:
                with tenant(tenant_id) if tenant_id else contextlib.nullcontext():
                    for _ in range(queries):
                        conn.execute("SELECT 1")

            return go

        run_plain = select_ones(plain, None)
        run_tagged = select_ones(tagged, tid)
        run_counted = select_ones(counted, tid)

        from tenantcost.telemetry.tagging import sync_backend_tag

        sync_backend_tag(tagged, tid)
        t0 = time.thread_time_ns()
        for _ in range(queries * 10):
            sync_backend_tag(tagged, tid)  # the per-query check, already tagged
        sync_ns = (time.thread_time_ns() - t0) / (queries * 10)
        run_plain(), run_tagged(), run_counted()
        for i in range(rounds):
            untagged_us.append(cpu_per_query(run_counted))
            if i % 2:
                t, p_ = cpu_per_query(run_tagged), cpu_per_query(run_plain)
            else:
                p_, t = cpu_per_query(run_plain), cpu_per_query(run_tagged)
            plain_us.append(p_)
            tagged_us.append(t)
            diffs.append(t - p_)
    return {
        "query": "SELECT 1 over TCP 127.0.0.1",
        "queries_per_round": queries,
        "rounds": rounds,
        "plain_cpu_us_median": round(statistics.median(plain_us), 2),
        "tagged_cpu_us_median": round(statistics.median(tagged_us), 2),
        "added_cpu_us_median_of_pairs": round(statistics.median(diffs), 2),
        "counting_only_cpu_us_median": round(statistics.median(untagged_us), 2),
        "backend_tag_check_cpu_ns": round(sync_ns, 1),
        "backend_tag_cpu_us": round(
            statistics.median(tagged_us) - statistics.median(untagged_us), 2
        ),
        "added_cpu_us_pairs": [round(d, 2) for d in diffs],
    }


# ---- overhead -------------------------------------------------------------------------------
def sampler_overhead(server: Server, backends: int, seconds: float = 10.0) -> dict[str, Any]:
    conns = [psycopg.connect(server.db_url("bench_a"), autocommit=True) for _ in range(backends)]
    try:
        sampler = BackendSampler(
            lambda: connect(server.url, autocommit=True), interval=1.0, tenant_map_loader=load_map
        )
        assert sampler.start()
        assert sampler._conn is not None
        backend = psutil.Process(sampler._conn.info.backend_pid)
        b0 = sum(backend.cpu_times()[:2])
        time.sleep(seconds)
        b1 = sum(backend.cpu_times()[:2])
        own = sampler.own_cpu_s
        ticks = sampler._acc.ticks
        sampler.stop(final_tick=False)
        with psycopg.connect(server.url) as c:
            listed = c.execute("SELECT count(*) FROM pg_stat_activity").fetchone()
    finally:
        for c in conns:
            c.close()
    return {
        "backends_listed": listed[0] if listed else None,
        "seconds": seconds,
        "ticks": ticks,
        "sampler_thread_cpu_s": round(own, 4),
        "sampler_thread_pct_of_core": round(own / seconds * 100, 3),
        "sampler_backend_cpu_s": round(b1 - b0, 4),
        "total_pct_of_core": round((own + b1 - b0) / seconds * 100, 3),
    }


def tps_ab(server: Server, rounds: int, seconds: int) -> dict[str, Any]:
    on, off = [], []
    for i in range(rounds * 2):
        sampler_on = i % 2 == (i // 2) % 2  # on/off, off/on, … (interleaved, alternating first)
        sampler = None
        if sampler_on:
            sampler = BackendSampler(
                lambda: connect(server.url, autocommit=True),
                interval=1.0,
                tenant_map_loader=load_map,
            )
            sampler.start()
        p = pgbench(
            server,
            "bench_a",
            server.user,
            server.password,
            ["-S", "-c", "2", "-j", "2", "-T", str(seconds)],
            {},
        )
        tps = _tps(p.communicate()[0].decode()) or 0.0
        if sampler is not None:
            sampler.stop(final_tick=False)
        (on if sampler_on else off).append(tps)
    return {
        "rounds": rounds,
        "seconds": seconds,
        "tps_on": on,
        "tps_off": off,
        "median_on": statistics.median(on),
        "median_off": statistics.median(off),
        "drop_pct": round((1 - statistics.median(on) / statistics.median(off)) * 100, 2),
        # rounds run in pairs (on/off, off/on, …): each pair's ratio cancels slow drift
        "pair_drop_pct": [round((1 - a / b) * 100, 2) for a, b in zip(on, off, strict=True)],
        "median_pair_drop_pct": round(
            statistics.median((1 - a / b) * 100 for a, b in zip(on, off, strict=True)), 2
        ),
    }


def run(args: argparse.Namespace) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="tenantcost-bench-cpu-"))
    embedded = EmbeddedServer(data_dir)
    results: dict[str, Any] = {
        "machine": {
            **machine(),
            "pgbench": subprocess.run(
                [PGBENCH, "--version"], capture_output=True, text=True
            ).stdout.strip(),
        },
        "seconds": args.seconds,
        "interval": args.interval,
    }
    heavy = data_dir / "heavy.sql"
    heavy.write_text(HEAVY)
    try:
        url = embedded.start()
        info = conninfo_to_dict(url)
        server = Server(
            url,
            str(info.get("host", "127.0.0.1")),
            str(info["port"]),
            str(info["user"]),
            str(info.get("password", "")),
        )
        migrate.upgrade(url)
        with connect(url, autocommit=True) as conn:
            tenants: dict[str, UUID] = {}
            for letter in "abc":
                row: Any = conn.execute(
                    "INSERT INTO companies (name) VALUES (%s) RETURNING id", (f"tenant {letter}",)
                ).fetchone()
                tenants[letter] = UUID(str(row["id"]))
            pm_row: Any = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
            pm = psutil.Process(int(pm_row["pid"])).ppid()
        setup(server, tenants)
        cases = []
        for shape in args.shapes.split(",") if args.only in ("all", "pgbench") else []:
            for mode in args.modes.split(","):
                for compete in (False, True):
                    case = one_case(
                        server,
                        pm,
                        tenants,
                        shape,
                        mode,
                        compete,
                        args.seconds,
                        args.interval,
                        heavy,
                    )
                    cases.append(case)
                    ts, ss, es = case["true_share"], case["sampler_share"], case["exec_share"]
                    print(
                        f"{shape:14} {mode:8} {'compete' if compete else 'quiet':7} "
                        f"true A {ts['a']:.3f} B {ts['b']:.3f} | sampler A {ss['a']:.3f} "
                        f"B {ss['b']:.3f} C {ss['c']:.3f} | exec "
                        + (f"A {es['a']:.3f} B {es['b']:.3f}" if es else "n/a")
                        + f" | unattr {case['unattributed_s']:.3f}s "
                        f"(exited {case['exited_unattributed_s']:.3f}s) bg {case['background_s']:.3f}s",
                        flush=True,
                    )
        results["accuracy"] = cases
        if args.only in ("all", "library"):
            results["library"] = [
                library_case(server, tenants, compete, args.seconds, args.interval)
                for compete in (False, True)
                for _ in range(2)
            ]
            for case in results["library"]:
                ts, ss = case["true_share"], case["sampler_share"]
                print(
                    f"library tiny-vs-heavy {'compete' if case['competing'] else 'quiet':7} "
                    f"true A {ts['a']:.3f} B {ts['b']:.3f} | sampler A {ss['a']:.3f} "
                    f"B {ss['b']:.3f} C {ss['c']:.3f} | exited {case['exited_unattributed_s']:.3f}s",
                    flush=True,
                )
        if args.only not in ("all", "overhead"):
            return _finish(results, args, embedded, data_dir)
        results["tagging_overhead"] = tagging_overhead(server)
        print("tagging overhead (client CPU):", results["tagging_overhead"], flush=True)
        results["sampler_overhead"] = sampler_overhead(server, args.backends)
        print("sampler overhead:", results["sampler_overhead"], flush=True)
        results["tps_ab"] = tps_ab(server, args.ab_rounds, min(args.seconds, 3))
        print("pgbench -S TPS on/off:", results["tps_ab"], flush=True)
    except BaseException:
        embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    return _finish(results, args, embedded, data_dir)


def summary_table(cases: list[dict[str, Any]]) -> str:
    """Markdown: per shape and mode, quiet and competing, tenant B's (the small one's) true
    and attributed shares and the worst relative error over A and B (the README's table)."""
    lines = [
        "| shape | mode | load | true share A / B | sampler A / B | exec time A / B "
        "| worst rel. error sampler | worst rel. error exec time | C (idle) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def worst(errors: dict[str, float | None] | None) -> str:
        if not errors:
            return "n/a"
        values = [abs(v) for k, v in errors.items() if k in ("a", "b") and v is not None]
        return f"{max(values) * 100:.1f} %" if values else "n/a"

    for c in cases:
        ts, ss, es = c["true_share"], c["sampler_share"], c.get("exec_share")
        lines.append(
            f"| {c['shape']} | {c['mode']} | {'competing' if c['competing'] else 'quiet'} "
            f"| {ts['a']:.3f} / {ts['b']:.3f} | {ss['a']:.3f} / {ss['b']:.3f} | "
            + (f"{es['a']:.3f} / {es['b']:.3f}" if es else "n/a")
            + f" | {worst(c['sampler_rel_error'])} | {worst(c.get('exec_rel_error'))} "
            f"| {ss['c']:.3f} |"
        )
    return "\n".join(lines)


def _finish(
    results: dict[str, Any], args: argparse.Namespace, embedded: EmbeddedServer, data_dir: Path
) -> int:
    embedded.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    cases = [*results.get("accuracy", []), *results.get("library", [])]
    if cases:
        print(summary_table(cases))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0
