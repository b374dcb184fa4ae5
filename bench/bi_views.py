"""BI views benchmark: the demo fleet on a throw-away embedded PostgreSQL in a temp dir.

Measures load and refresh time; p50/p95 of the dashboard query (on the cost model's figures,
``tenant_period_figures`` for the latest period; before revision 0010 the materialized
``executive_business_rollup``) and of a single-tenant lookup (client round trip, and server
execution from EXPLAIN ANALYZE); the same on the seed's view (since 0010 a view over the same
figures); and p50/p95 under N concurrent readers (threads sharing
a psycopg_pool on 127.0.0.1, bounded in time and count).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from tenantcost.db import migrate
from tenantcost.db.embedded import EmbeddedServer
from tenantcost.db.tenancy import set_tenant
from tenantcost.demo.fleet import load_demo
from tenantcost.report import refresh_rollups

# Since revision 0010 the dashboards read the cost model's per-tenant figures (the
# materialized executive_business_rollup is gone); the seed's views are views over them.
FIGURES = "tenant_period_figures WHERE period = (SELECT tenantcost_latest_period())"
DASHBOARD = f"SELECT * FROM {FIGURES} ORDER BY cost_efficiency_score DESC"
DASHBOARD_PAGE = DASHBOARD + " LIMIT 50"
LOOKUP = "SELECT * FROM tenant_business_rollup WHERE tenant_id = %s"
HEALTH = (  # what `tenantcost report health` reads: the columns a dashboard shows
    "SELECT tenant_id, company_name, plan_name, business_health_status, cost_efficiency_score, "
    "gross_margin_ratio, monthly_subscription_revenue, total_operational_cost, monthly_profit "
    "FROM tenant_business_rollup ORDER BY cost_efficiency_score DESC"
)
LIVE_DASHBOARD = "SELECT * FROM executive_business_summary ORDER BY cost_efficiency_score DESC"
LIVE_LOOKUP = "SELECT * FROM executive_business_summary WHERE tenant_id = %s"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenants", type=int, default=10_000, help="Demo fleet size.")
    parser.add_argument("--seed", type=int, default=42, help="Demo fleet seed.")
    parser.add_argument(
        "--rule",
        default="emails_sent",
        choices=("none", "even", "emails_sent"),
        help="shared_cost_allocation while measuring (emails_sent does the most work).",
    )
    parser.add_argument("--repeat", type=int, default=50, help="Samples per rollup query.")
    parser.add_argument("--live-repeat", type=int, default=5, help="Samples per plain-view query.")
    parser.add_argument("--readers", type=int, default=100, help="Concurrent reader threads.")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="Duration of each concurrent scenario."
    )
    parser.add_argument(
        "--max-per-reader", type=int, default=500, help="Cap on queries per reader and scenario."
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="Pause of each reader between queries, uniform in [0, 2 x this] (0: back to back, "
        "the worst case; people reading a dashboard pause).",
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")


@dataclass
class Stat:
    name: str
    samples: int
    p50_ms: float
    p95_ms: float
    max_ms: float

    def line(self) -> str:
        return (
            f"{self.name:<58} n={self.samples:<6} p50 {self.p50_ms:9.2f} ms   "
            f"p95 {self.p95_ms:9.2f} ms   max {self.max_ms:9.2f} ms"
        )


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def stat(name: str, seconds: Sequence[float]) -> Stat:
    ms = [s * 1000 for s in seconds]
    return Stat(name, len(ms), percentile(ms, 0.5), percentile(ms, 0.95), max(ms))


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def sample(
    conn: psycopg.Connection[Any], sql: str, params: Callable[[], tuple[Any, ...]], n: int
) -> list[float]:
    return [timed(lambda: conn.execute(sql, params()).fetchall()) for _ in range(n)]


def server_ms(
    conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...], n: int
) -> list[float]:
    """Execution time PostgreSQL reports (EXPLAIN ANALYZE), in seconds, without the client."""
    out = []
    for _ in range(n):
        plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchone()
        assert plan is not None
        out.append(plan[0][0]["Execution Time"] / 1000)
    return out


def concurrent(
    pool: ConnectionPool[Any],
    readers: int,
    seconds: float,
    cap: int,
    work: Callable[[psycopg.Connection[Any], random.Random], None],
    think: float = 0.0,
) -> tuple[list[float], float]:
    """``readers`` threads run ``work`` until ``seconds`` pass or each did ``cap`` queries."""
    latencies: list[float] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(readers)
    deadline_box: list[float] = []

    def reader(k: int) -> None:
        rng = random.Random(k)
        mine: list[float] = []
        start_gate.wait()
        if not deadline_box:
            deadline_box.append(time.perf_counter() + seconds)
        deadline = deadline_box[0]
        while len(mine) < cap and time.perf_counter() < deadline:
            started = time.perf_counter()
            with pool.connection() as conn:
                work(conn, rng)
            mine.append(time.perf_counter() - started)
            if think:
                time.sleep(rng.uniform(0, 2 * think))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(readers)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    return latencies, time.perf_counter() - began


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory": mem, "python": platform.python_version()}


def run(args: argparse.Namespace) -> int:
    results: dict[str, Any] = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    stats: list[Stat] = []
    say = print
    with tempfile.TemporaryDirectory(prefix="tenantcost-bench-") as tmp:
        server = EmbeddedServer(Path(tmp))
        url = server.start()
        try:
            t = timed(lambda: migrate.upgrade(url))
            say(f"migrated empty database in {t:.2f} s")
            with psycopg.connect(url, autocommit=True) as conn:
                version = conn.execute("SHOW server_version").fetchone()
                results["server"] = version[0] if version else "?"
                conn.execute(
                    "UPDATE cost_settings SET value = %s WHERE key = 'shared_cost_allocation'",
                    (args.rule,),
                )
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            from psycopg.rows import dict_row

            with psycopg.connect(url, row_factory=dict_row) as conn:
                started = time.perf_counter()
                summary = load_demo(conn, tenants=args.tenants, seed=args.seed)
                results["load_seconds"] = time.perf_counter() - started
            results["fleet"] = asdict(summary)
            say(f"loaded {summary} in {results['load_seconds']:.1f} s")

            with psycopg.connect(url, autocommit=True) as conn:
                counts = conn.execute(
                    "SELECT (SELECT count(*) FROM vps_instances), (SELECT count(*) FROM smtp_ip_addresses), "
                    "(SELECT count(*) FROM payments), (SELECT count(*) FROM billing_analytics), "
                    "(SELECT count(*) FROM subscriptions WHERE status = 'active')"
                ).fetchone()
                assert counts is not None
                results["rows"] = dict(
                    zip(
                        ("vps", "ips", "payments", "billing_analytics", "active_tenants"),
                        counts,
                        strict=True,
                    )
                )
                say(f"rows: {results['rows']}")
            with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
                refresh = [refresh_rollups(conn).seconds for _ in range(3)]
                results["refresh_seconds"] = refresh
                say(f"refresh_rollups: {', '.join(f'{s:.2f}' for s in refresh)} s")

            with psycopg.connect(url, autocommit=True) as conn:
                tenants = [r[0] for r in conn.execute(f"SELECT tenant_id FROM {FIGURES}")]
                rng = random.Random(1)

                def one() -> tuple[Any, ...]:
                    return (rng.choice(tenants),)

                for _ in range(3):  # warm the cache
                    conn.execute(DASHBOARD).fetchall()
                stats.append(
                    stat(
                        "rollup dashboard, all rows (client)",
                        sample(conn, DASHBOARD, tuple, args.repeat),
                    )
                )
                stats.append(
                    stat(
                        "rollup dashboard, all rows (server)",
                        server_ms(conn, DASHBOARD, (), args.repeat),
                    )
                )
                stats.append(
                    stat(
                        "health report columns, all rows (client)",
                        sample(conn, HEALTH, tuple, args.repeat),
                    )
                )
                stats.append(
                    stat(
                        "rollup dashboard, top 50 (client)",
                        sample(conn, DASHBOARD_PAGE, tuple, args.repeat),
                    )
                )
                stats.append(
                    stat(
                        "rollup single-tenant lookup (client)",
                        sample(conn, LOOKUP, one, args.repeat * 4),
                    )
                )
                stats.append(
                    stat(
                        "rollup single-tenant lookup (server)",
                        server_ms(conn, LOOKUP, one(), args.repeat),
                    )
                )
                stats.append(
                    stat(
                        "plain view dashboard, all rows (client)",
                        sample(conn, LIVE_DASHBOARD, tuple, args.live_repeat),
                    )
                )
                stats.append(
                    stat(
                        "plain view dashboard, all rows (server)",
                        server_ms(conn, LIVE_DASHBOARD, (), args.live_repeat),
                    )
                )
                stats.append(
                    stat(
                        "plain view single-tenant lookup (client)",
                        sample(conn, LIVE_LOOKUP, one, args.live_repeat),
                    )
                )
                conn.execute(
                    "CREATE ROLE bench_app LOGIN PASSWORD 'bench' IN ROLE application_service"
                )
                key_row = conn.execute("SELECT key FROM tenantcost_tenant_key").fetchone()
                assert key_row is not None
                key = bytes(key_row[0])
            for s in stats:
                say(s.line())

            app_url = url.replace(url.split("//", 1)[1].split("@", 1)[0], "bench_app:bench")
            scenarios: list[
                tuple[str, str, Callable[[psycopg.Connection[Any], random.Random], None]]
            ] = [
                (
                    "tenant lookup as application_service (signed tenant, function-boundary view)",
                    app_url,
                    lambda c, r: _tenant_lookup(c, key, r.choice(tenants)),
                ),
                (
                    "dashboard top 50 (internal)",
                    url,
                    lambda c, r: c.execute(DASHBOARD_PAGE).fetchall(),
                ),
                (
                    "dashboard all rows (internal)",
                    url,
                    lambda c, r: c.execute(DASHBOARD).fetchall(),
                ),
            ]
            results["concurrent"] = []
            for name, target, work in scenarios:
                with ConnectionPool(
                    target,
                    min_size=args.readers,
                    max_size=args.readers,
                    open=True,
                    kwargs={"autocommit": True},
                    timeout=120,
                ) as pool:
                    pool.wait(timeout=120)
                    with psycopg.connect(url, autocommit=True) as admin:
                        admin.execute("SELECT pg_stat_statements_reset()")
                    latencies, wall = concurrent(
                        pool,
                        args.readers,
                        args.seconds,
                        args.max_per_reader,
                        work,
                        args.think_ms / 1000,
                    )
                timing = server_side(url)
                s = stat(f"{args.readers} readers: {name}", latencies)
                qps = len(latencies) / wall if wall else 0.0
                say(f"{s.line()}   {qps:8.0f} q/s")
                say(
                    f"{'':<58} server (pg_stat_statements): mean {timing['mean_ms']:.2f} ms, "
                    f"max {timing['max_ms']:.2f} ms over {timing['calls']} calls"
                )
                results["concurrent"].append(
                    {**asdict(s), "queries_per_second": qps, "wall_seconds": wall, "server": timing}
                )
        finally:
            server.destroy()  # also the cluster a root run keeps elsewhere
    results["stats"] = [asdict(s) for s in stats]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        say(f"results written to {args.json}")
    return 0


def server_side(url: str) -> dict[str, float]:
    """The scenario's main query as PostgreSQL timed it (mean/max execution, no client)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT calls, mean_exec_time, max_exec_time FROM pg_stat_statements "
            "WHERE query ILIKE 'SELECT * FROM%' ORDER BY calls DESC LIMIT 1"
        ).fetchone()
    if row is None:
        return {"calls": 0, "mean_ms": float("nan"), "max_ms": float("nan")}
    return {"calls": row[0], "mean_ms": row[1], "max_ms": row[2]}


def _tenant_lookup(conn: psycopg.Connection[Any], key: bytes, tenant: Any) -> None:
    with conn.transaction():
        set_tenant(conn, key, tenant)  # a signed tenant, as an application would
        rows = conn.execute("SELECT * FROM tenant_business_rollup").fetchall()
    assert len(rows) == 1
