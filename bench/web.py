"""Dashboard benchmark: every page's server time and 100 concurrent users, at 10,000 tenants.

``python -m bench.web --tenants 10000 --workers 1 2 --json bench/results/web_10000.json``

A throw-away embedded PostgreSQL in a temp dir gets the demo fleet (``load_demo``), its
figures refreshed and a dba user with an API token (``--database-url`` reuses a database
that already has a fleet instead). The dashboard runs on 127.0.0.1 in separate processes
(``--workers`` of them sharing one listening socket, jobs off, so the load generator does not
share their interpreter lock). For each worker count:

1. each page and API endpoint is requested ``--repeat`` times in a row: p50/p95 of the
   loopback round trip (an upper bound on server time: it includes HTTP and the client);
   the FOCUS export's rows per second;
2. ``--users`` threads, each with its own HTTP client (``--client``), visit the dashboard's pages in a
   random order (overview, health, health sorted and paged, allocation, a random tenant's
   page) for ``--seconds`` (at most ``--max-per-user`` requests each), pausing between
   requests for a time drawn at random (exponential, mean ``--think-ms``; 0: back to back,
   the worst case): p50, p95, p99 and errors overall and per page, throughput, and the CPU
   seconds the generator and the server used meanwhile with the load average. Load is
   generated from 127.0.0.1, bounded in count and time.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import wait_until_serving
from tenantcost.db import migrate
from tenantcost.db.connect import connect
from tenantcost.db.embedded import EmbeddedServer
from tenantcost.demo.fleet import load_demo
from tenantcost.report import refresh_rollups
from tenantcost.web.serve import bind
from tenantcost.web.users import add_user


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else float("nan"),
    }


def pages(tenant_id: str) -> dict[str, str]:
    return {
        "overview page": "/",
        "health page": "/health",
        "health page sorted by profit, page 20": "/health?sort=monthly_profit&order=asc&page=20",
        "health page CSV (all rows)": "/health?format=csv",
        "allocation page": "/allocation",
        "tenant page": f"/tenants/{tenant_id}",
        "settings page": "/settings",
        "what-if page": "/whatif?vcpu_multiplier=1.5",
        "API overview": "/api/v1/overview",
        "API health table (50 rows)": "/api/v1/tables/health",
        "API cost per email (filtered)": "/api/v1/tables/cost_per_email?plan=Growth",
        "API tenant": f"/api/v1/tenants/{tenant_id}",
        "API FOCUS export (CSV)": "/api/v1/export/focus",
        "metrics": "/metrics",
    }


def sequential(base: str, token: str, path: str, repeat: int) -> list[float]:
    times = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        c.get(path).raise_for_status()  # warm-up
        for _ in range(repeat):
            started = time.perf_counter()
            c.get(path).raise_for_status()
            times.append(time.perf_counter() - started)
    return times


def user_pages() -> list[tuple[str, str]]:
    """The pages a dashboard user visits, each with the name its figures are reported under
    (the tenant page's path is drawn per visit)."""
    return [
        ("overview page", "/"),
        ("health page", "/health"),
        ("health page sorted, page N", "/health?sort=monthly_profit&order=asc&page={n}"),
        ("allocation page", "/allocation"),
        ("tenant page", "/tenants/{tenant}"),
    ]


def per_second(samples: Sequence[tuple[float, float]]) -> list[dict[str, float]]:
    """Requests by the second they started in: how many, p50 and max (ms), so that a stall
    (every request slow at once) tells itself apart from unfair queueing (some slow always)."""
    seconds: dict[int, list[float]] = {}
    for at, took in samples:
        seconds.setdefault(int(at), []).append(took)
    return [
        {
            "second": k,
            "n": len(v),
            "p50_ms": round(percentile(v, 50) * 1000, 1),
            "max_ms": round(max(v) * 1000, 1),
        }
        for k, v in sorted(seconds.items())
    ]


def process_cpu(pid: int) -> float:
    """User + system CPU seconds a process (e.g. the server) has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


class LightClient:
    """One keep-alive HTTP/1.1 connection (``http.client``): a user of the ``light`` load
    generator, a fraction of httpx's CPU per request (the generator shares the machine)."""

    def __init__(self, base: str, headers: dict[str, str], timeout: float) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.address, self.headers, self.timeout = (host, int(port)), headers, timeout
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> int:
        """The response's status (the body is read and dropped); reconnects once."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(*self.address, timeout=self.timeout)
            try:
                self.conn.request("GET", path, headers=self.headers)
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def concurrent(
    base: str,
    token: str,
    users: int,
    seconds: float,
    max_per_user: int,
    think: float = 0.0,
    tenant_ids: Sequence[str] = (),
    seed: int = 1,
    client: str = "light",
    server_pid: int | None = None,
) -> dict[str, Any]:
    """``users`` threads visiting the pages in random order, each pausing a random time
    (exponential, mean ``think`` seconds) between requests; per page and overall figures,
    with the CPU seconds the load generator (this process) and the server used meanwhile.
    ``client``: ``light`` (``http.client``) or ``httpx`` (the generator before issue 15)."""
    pages = user_pages()
    samples: list[list[tuple[str, float, float]]] = [[] for _ in range(users)]
    errors: list[list[str]] = [[] for _ in range(users)]
    statuses: list[list[int]] = [[] for _ in range(users)]  # of the failed requests (0: no answer)
    start = threading.Barrier(users + 1)
    deadline = [0.0]

    def user(k: int) -> None:
        rng = random.Random(seed * 1_000_003 + k)
        headers = {"Authorization": f"Bearer {token}"}
        if client == "httpx":
            c: Any = httpx.Client(base_url=base, headers=headers, timeout=60)
        else:
            c = LightClient(base, headers, 60)
        try:
            start.wait()
            if think:
                time.sleep(rng.uniform(0, think))  # arrive spread out, not all at once
            for _ in range(max_per_user):
                if time.perf_counter() > deadline[0]:
                    return
                name, path = rng.choice(pages)
                path = path.format(n=rng.randint(1, 100), tenant=rng.choice(tenant_ids))
                began = time.perf_counter()
                try:
                    status = c.get(path)
                    status = status if isinstance(status, int) else status.status_code
                except (httpx.HTTPError, OSError, http.client.HTTPException):
                    status = 0
                if not 200 <= status < 400:
                    errors[k].append(name)
                    statuses[k].append(status)
                    continue
                samples[k].append((name, began, time.perf_counter() - began))
                if think:
                    time.sleep(rng.expovariate(1 / think))
        finally:
            c.close()

    threads = [threading.Thread(target=user, args=(k,)) for k in range(users)]
    for t in threads:
        t.start()
    load_before = load_average()
    cpu_before = time.process_time()
    server_before = process_cpu(server_pid) if server_pid else 0.0
    # The generator's own garbage collection would pause its 100 threads mid-request (a full
    # pass measured 130–320 ms on the loaded box) and count as the server's latency.
    gc.collect()
    gc.disable()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join(seconds + 120)
    elapsed = time.perf_counter() - began
    gc.enable()
    generator_cpu = time.process_time() - cpu_before
    server_cpu = process_cpu(server_pid) - server_before if server_pid else None
    flat = [s for per in samples for s in per]
    failed = [e for per in errors for e in per]
    return {
        "users": users,
        "think_ms_mean": round(think * 1000),
        "think": "exponential" if think else "none (back to back)",
        "client": client,
        "seconds": round(elapsed, 1),
        "requests": len(flat),
        "errors": len(failed),
        "error_statuses": {
            str(code): sum(1 for per in statuses for c in per if c == code)
            for code in sorted({c for per in statuses for c in per})
        },
        "throughput_rps": round(len(flat) / elapsed, 1),
        **summary([t for _, _, t in flat]),
        "per_second": per_second([(at - began, t) for _, at, t in flat]),
        "generator_cpu_s": round(generator_cpu, 1),
        "server_cpu_s": None if server_cpu is None else round(server_cpu, 1),
        "server_cpu_ms_per_request": None
        if server_cpu is None or not flat
        else round(server_cpu / len(flat) * 1000, 2),
        "load_average": [load_before, load_average()],
        "per_page": {
            name: {
                **summary([t for n, _, t in flat if n == name]),
                "errors": sum(1 for e in failed if e == name),
            }
            for name, _ in pages
        },
    }


SERVER = """
import os, sys
from tenantcost.web.serve import bind, server_for
url, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = bind("127.0.0.1", port)
for _ in range(workers - 1):  # pre-fork: every worker accepts on the one socket
    if os.fork() == 0:
        break
server_for(url, jobs=False, interval=3600.0).run(sockets=[sock])
"""


@contextmanager
def server_process(
    url: str, workers: int = 1, src: Path | None = None
) -> Iterator[tuple[str, int]]:
    """The dashboard in ``workers`` child processes on a free loopback port (their own
    process group, stopped afterwards): its base URL and the first worker's pid; ``src``:
    import tenantcost from that checkout."""
    probe = bind("127.0.0.1", 0)
    port = probe.getsockname()[1]
    probe.close()
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, url, str(port), str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, proc, 60)
        yield base, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the workers this benchmark forked, only
        proc.wait(15)


def export_rate(base: str, token: str) -> dict[str, Any]:
    """The FOCUS export of the default month: rows, seconds and rows per second."""
    headers = {"Authorization": f"Bearer {token}"}
    began = time.perf_counter()
    rows = -1  # the header
    with httpx.stream("GET", f"{base}/api/v1/export/focus", headers=headers, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            rows += chunk.count(b"\n")
    seconds = time.perf_counter() - began
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_second": round(rows / seconds)}


def prepare(conn: Any, args: argparse.Namespace, results: dict[str, Any]) -> tuple[str, list[str]]:
    """A dba token and the fleet's tenant ids (the costliest first)."""
    name = f"bench-{os.getpid()}"
    user = add_user(conn, name, "dba", password=None, token=True)
    assert user.token
    rows = conn.execute(
        "SELECT tenant_id FROM tenant_period_figures WHERE period = (SELECT tenantcost_latest_period()) "
        "ORDER BY total_operational_cost DESC"
    ).fetchall()
    results["tenants_with_figures"] = len(rows)
    return user.token, [str(r["tenant_id"]) for r in rows]


def measure(
    url: str, args: argparse.Namespace, token: str, tenant_ids: list[str], workers: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"workers": workers, "pages": {}}
    with server_process(url, workers, args.server_src) as (base, pid):
        for name, path in pages(tenant_ids[0]).items():
            stats = summary(sequential(base, token, path, args.repeat))
            out["pages"][name] = {"path": path, **stats}
            print(
                f"[{workers}w] {name:40s} p50 {stats['p50_ms']:7.1f} ms  p95 {stats['p95_ms']:7.1f} ms"
            )
        out["focus_export"] = export_rate(base, token)
        print(f"[{workers}w] FOCUS export:", json.dumps(out["focus_export"]))
        out["concurrent"] = []
        for think in args.think_ms:
            run_ = concurrent(
                base,
                token,
                args.users,
                args.seconds,
                args.max_per_user,
                think / 1000,
                tenant_ids,
                args.seed,
                args.client,
                pid if workers == 1 else None,
            )
            out["concurrent"].append(run_)
            per_page = run_.pop("per_page")
            timeline = run_.pop("per_second")
            print(f"[{workers}w] concurrent:", json.dumps(run_))
            print(
                "    p50 / max ms by second:",
                " ".join(f"{s['p50_ms']:.0f}/{s['max_ms']:.0f}" for s in timeline),
            )
            for page, stats in per_page.items():
                print(f"    {page:32s} {json.dumps(stats)}")
            run_["per_page"] = per_page
            run_["per_second"] = timeline
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "tenants": args.tenants,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "runs": [],
    }
    if args.database_url:
        with connect(args.database_url) as conn:
            token, tenant_ids = prepare(conn, args, results)
        results["tenants"] = None  # the fleet that was there
        for workers in args.workers:
            results["runs"].append(measure(args.database_url, args, token, tenant_ids, workers))
        return results
    with tempfile.TemporaryDirectory(prefix="tenantcost-bench-web-") as tmp:
        server = EmbeddedServer(Path(tmp))
        url = server.start()
        try:
            migrate.upgrade(url)
            with connect(url) as conn:
                began = time.perf_counter()
                load_demo(conn, tenants=args.tenants, seed=args.seed, replace=True)
                results["load_seconds"] = round(time.perf_counter() - began, 1)
                began = time.perf_counter()
                refresh_rollups(conn)
                results["refresh_seconds"] = round(time.perf_counter() - began, 2)
                token, tenant_ids = prepare(conn, args, results)
            for workers in args.workers:
                results["runs"].append(measure(url, args, token, tenant_ids, workers))
        finally:
            server.destroy()  # also the cluster a root run keeps elsewhere
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__)
    parser.add_argument("--tenants", type=int, default=10_000, help="Demo fleet size.")
    parser.add_argument("--seed", type=int, default=42, help="Demo fleet seed.")
    parser.add_argument("--repeat", type=int, default=30, help="Requests per page, in a row.")
    parser.add_argument("--users", type=int, default=100, help="Concurrent users.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Concurrent run length.")
    parser.add_argument("--max-per-user", type=int, default=200, help="Cap per user.")
    parser.add_argument(
        "--think-ms",
        type=float,
        nargs="+",
        default=[0.0, 1000.0],
        help="Mean pause between a user's requests (drawn at random, exponential), one "
        "concurrent run per value; 0: back to back.",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="Server processes sharing the socket, one measurement per value (e.g. 1 2).",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="Use this database's fleet (already loaded and refreshed) instead of a "
        "throw-away one; adds a dba user named bench-PID.",
    )
    parser.add_argument(
        "--server-src",
        type=Path,
        default=None,
        help="Run the server from another checkout's src directory (A/B against a commit).",
    )
    parser.add_argument(
        "--client",
        choices=("light", "httpx"),
        default="light",
        help="Load generator's HTTP client: light (http.client, one keep-alive connection per "
        "user; default) or httpx (the generator before issue 15, ~4-6 ms of CPU a request on "
        "the machine it shares with the server).",
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    args = parser.parse_args(argv)
    results = run(args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
