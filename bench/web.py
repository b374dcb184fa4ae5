"""Dashboard benchmark: every page's server time and 100 concurrent users, at 10,000 tenants.

``python -m bench.web --tenants 10000 --json bench/results/web_10000.json``

A throw-away embedded PostgreSQL in a temp dir gets the demo fleet (``load_demo``), its
rollups refreshed and a dba user with an API token; the dashboard runs in this process on
127.0.0.1 in a separate process (``serve_forever``, jobs off, so the load generator does not
share its interpreter lock). Then:

1. each page and API endpoint is requested ``--repeat`` times in a row: p50/p95 of the
   loopback round trip (an upper bound on server time: it includes HTTP and the client);
2. ``--users`` threads, each with its own HTTP client, alternate the overview page and the
   executive health page for ``--seconds`` (at most ``--max-per-user`` requests each),
   pausing ``--think-ms`` between requests (0: back to back, the worst case): p50, p95, p99
   and throughput. Load is generated from 127.0.0.1, bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def concurrent(
    base: str, token: str, users: int, seconds: float, max_per_user: int, think: float = 0.0
) -> dict[str, Any]:
    paths = ["/", "/health"]
    samples: list[list[float]] = [[] for _ in range(users)]
    errors = [0] * users
    start = threading.Barrier(users + 1)
    deadline = [0.0]

    def user(k: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            start.wait()
            for i in range(max_per_user):
                if time.perf_counter() > deadline[0]:
                    return
                began = time.perf_counter()
                try:
                    c.get(paths[(k + i) % 2]).raise_for_status()
                except httpx.HTTPError:
                    errors[k] += 1
                    continue
                samples[k].append(time.perf_counter() - began)
                if think:
                    time.sleep(think)

    threads = [threading.Thread(target=user, args=(k,)) for k in range(users)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join(seconds + 120)
    elapsed = time.perf_counter() - began
    flat = [s for per in samples for s in per]
    return {
        "users": users,
        "think_ms": round(think * 1000),
        "seconds": round(elapsed, 1),
        "requests": len(flat),
        "errors": sum(errors),
        "throughput_rps": round(len(flat) / elapsed, 1),
        **summary(flat),
    }


SERVER = (
    "import sys; from tenantcost.web.serve import serve_forever; "
    "serve_forever(sys.argv[1], '127.0.0.1', int(sys.argv[2]), jobs=False)"
)


@contextmanager
def server_process(url: str) -> Iterator[str]:
    """``serve_forever`` in a child process on a free loopback port; stopped afterwards."""
    probe = bind("127.0.0.1", 0)
    port = probe.getsockname()[1]
    probe.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, url, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dashboard server did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(15)


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "tenants": args.tenants,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
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
                user = add_user(conn, "bench", "dba", password=None, token=True)
                assert user.token
                row = conn.execute(
                    "SELECT tenant_id FROM executive_business_rollup "
                    "ORDER BY total_operational_cost DESC LIMIT 1"
                ).fetchone()
                assert row
            with server_process(url) as base:
                results["pages"] = {}
                for name, path in pages(str(row["tenant_id"])).items():
                    stats = summary(sequential(base, user.token, path, args.repeat))
                    results["pages"][name] = {"path": path, **stats}
                    print(
                        f"{name:40s} p50 {stats['p50_ms']:7.1f} ms  p95 {stats['p95_ms']:7.1f} ms"
                    )
                results["concurrent"] = [
                    concurrent(
                        base, user.token, args.users, args.seconds, args.max_per_user, think / 1000
                    )
                    for think in args.think_ms
                ]
                for run_ in results["concurrent"]:
                    print("concurrent:", json.dumps(run_))
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
        help="Pause between a user's requests, one concurrent run per value.",
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    args = parser.parse_args(argv)
    results = run(args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
