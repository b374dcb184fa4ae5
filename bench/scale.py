"""Growth benchmark (issue 15): the pipeline at N tenants with a month of hourly usage.

``python -m bench scale --tenants 1000,10000 [--hours 720]``

For each tenant count, on a throw-away embedded PostgreSQL in a temp dir (never your data
directory):

1. migrates, imports the shipped price books, loads the demo fleet (``load_demo``);
2. writes ``--hours`` of hourly usage evidence up to the current hour through the demo
   history's own insert (``tenantcost.demo`` ``history_insert``, the statement
   ``load_history`` runs; one day per statement, with a progress bar), then prices it into
   ``tenant_cost_daily`` and the last 8 days into ``tenant_cost_hourly`` like
   ``load_history`` does;
3. runs each step as the real command in its own process (``python -m tenantcost …`` with
   ``TENANTCOST_DATABASE_URL``) and records its wall time, the command's peak RSS (its
   ``VmHWM`` in ``/proc``, sampled every 0.1 s until it exits) and the PostgreSQL backends'
   peak memory (sampled likewise: the largest backend's RSS, shared buffers included, and
   its private anonymous memory): ``attribute --month``
   (the month with most of the window), a collector pass (``collect --no-sampler``),
   ``attribute --hour``, ``tiers evaluate --hour`` (the last full hour), ``report refresh``
   — the last four are the hourly cycle — and ``attribute --month`` again with every day
   marked changed (the worst case: each day re-priced from the evidence);
4. starts ``tenantcost serve --no-jobs`` on 127.0.0.1 (a free port) and requests the overview
   and the most expensive tenant's page ``--requests`` times each after one warm-up
   (single user, p50/p95 of the loopback round trip), then streams the month's FOCUS export
   (rows/s);
5. records the database size and the size of usage, ledger, daily and hourly cost tables,
   with bytes per tenant-month of usage evidence + priced cost;
6. runs ``collect --retention`` with ``TENANTCOST_USAGE_HOURLY_DAYS=7`` (every older day
   rolled up into daily evidence, its hourly partition dropped) and records the sizes again,
   with bytes per tenant-month of daily evidence.

Each step records the command's CPU seconds (user + system) and the PostgreSQL server's
(its processes' CPU during the step) beside wall time, and the load average, since wall time
on a shared machine says little on its own.

Results go to ``bench/results/scale_<N>.json`` (``--json-dir``) and a table is printed.
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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import wait_until_serving
from tenantcost.attribution.ledger import price_day_range, price_hours
from tenantcost.config import get_settings
from tenantcost.db import migrate
from tenantcost.db.connect import Connection, connect
from tenantcost.db.embedded import EmbeddedServer
from tenantcost.demo.fleet import load_demo
from tenantcost.demo.history import DEMO_SOURCE, history_insert
from tenantcost.demo.history import sql as demo_sql
from tenantcost.pricing.book import shipped_price_books
from tenantcost.pricing.store import import_book
from tenantcost.telemetry.timeutil import add_months, hour_of, month_start
from tenantcost.web.serve import bind
from tenantcost.web.users import add_user

HOUR = timedelta(hours=1)
RESULTS = Path(__file__).parent / "results"
RETAIN_DAYS = 7  # hourly evidence kept by the retention step (the rest is rolled up)
DAYS_PER_MONTH = 365.25 / 12
SIZED_TABLES = (
    "tenant_usage_hourly",
    "tenant_usage_daily",
    "tenant_cost_hourly",
    "tenant_cost_daily",
    "tenant_cost_ledger",
    "tenant_period_figures",
    "billing_analytics",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tenants",
        default="1000,10000",
        help="Comma-separated fleet sizes, one run each (e.g. 1000,10000,100000).",
    )
    parser.add_argument(
        "--hours",
        type=int,
        default=720,
        help="Hours of usage history up to the current hour (720: a month; fewer: a quick run).",
    )
    parser.add_argument("--seed", type=int, default=42, help="Demo fleet and usage seed.")
    parser.add_argument(
        "--requests", type=int, default=20, help="Requests per dashboard page (single user)."
    )
    parser.add_argument(
        "--json-dir",
        type=Path,
        default=RESULTS,
        help="Where scale_<N>.json goes (one file per tenant count).",
    )


# ----------------------------------------------------------------------------- measuring


@dataclass
class Step:
    name: str
    seconds: float
    rss_mb: float  # the command's peak RSS
    backend_rss_mb: float  # the largest PostgreSQL backend's peak RSS (shared pages included)
    backend_private_mb: float  # ... its peak private (anonymous) memory
    exit_code: int
    output_tail: str
    cpu_s: float = 0.0  # the command's own CPU (user + system), from wait4
    backend_cpu_s: float = 0.0  # the postmaster's children's CPU during the step (sampled)
    loadavg: str = ""  # /proc/loadavg's 1-minute figure at the start and the end


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "VmHWM"):
            out[key] = int(value.split()[0])  # kB
    return out


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            pids.append(int(entry.name))
    return pids


class BackendWatch:
    """Peak memory of the postmasters' children (backends and workers), sampled: one
    postmaster, or a Citus coordinator's and its workers' on this machine."""

    def __init__(self, postmasters: Sequence[int]) -> None:
        self.postmasters = postmasters
        self.child: int | None = None  # the command's pid: its VmHWM (peak since exec)
        self.child_hwm_kb = 0
        self.rss_kb = 0
        self.private_kb = 0
        # CPU ticks per child: at the first sample (0 for a child started during the step)
        # and at the latest one; their differences summed are the server's CPU in the step.
        self._first: dict[int, int] = {pid: _cpu_ticks(pid) for pid in self._backends()}
        self._last: dict[int, int] = dict(self._first)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.child is not None:
                self.child_hwm_kb = max(self.child_hwm_kb, _status(self.child).get("VmHWM", 0))
            for pid in self._backends():
                self._first.setdefault(pid, 0)
                self._last[pid] = max(self._last.get(pid, 0), _cpu_ticks(pid))
                s = _status(pid)
                self.rss_kb = max(self.rss_kb, s.get("VmRSS", 0))
                self.private_kb = max(self.private_kb, s.get("RssAnon", 0))
            self._stop.wait(0.1)

    def _backends(self) -> list[int]:
        return [pid for postmaster in self.postmasters for pid in _children(postmaster)]

    def backend_cpu_s(self) -> float:
        ticks = sum(self._last[pid] - self._first.get(pid, 0) for pid in self._last)
        return ticks / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> BackendWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def run_command(
    name: str,
    args: Sequence[str],
    env: dict[str, str],
    postmaster: int | Sequence[int],
    console: Console,
) -> Step:
    """One tenantcost command in its own process: wall time, its peak RSS, backends' peak."""
    postmasters = [postmaster] if isinstance(postmaster, int) else postmaster
    console.print(f"  [bold]{name}[/]: tenantcost {' '.join(args)}", markup=True, highlight=False)
    load_before = _load()
    with BackendWatch(postmasters) as watch, tempfile.TemporaryFile() as out:
        began = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tenantcost", *args], env=env, stdout=out, stderr=out
        )
        watch.child = proc.pid
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        tail = out.read().decode(errors="replace")[-600:]
    step = Step(
        name,
        round(seconds, 2),
        round(watch.child_hwm_kb / 1024, 1),
        round(watch.rss_kb / 1024, 1),
        round(watch.private_kb / 1024, 1),
        proc.returncode,
        tail,
        round(usage.ru_utime + usage.ru_stime, 2),
        round(watch.backend_cpu_s(), 2),
        f"{load_before}-{_load()}",
    )
    console.print(
        f"    {step.seconds:8.2f} s   RSS {step.rss_mb:7.1f} MB   largest backend "
        f"{step.backend_rss_mb:7.1f} MB ({step.backend_private_mb:.1f} MB private)   "
        f"cpu {step.cpu_s:.1f} s + server {step.backend_cpu_s:.1f} s   load {step.loadavg}"
        + ("" if step.exit_code == 0 else f"   EXIT {step.exit_code}: {tail[-300:]}"),
        markup=False,
        highlight=False,
    )
    return step


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def page_times(client: httpx.Client, path: str, n: int) -> dict[str, float]:
    client.get(path).raise_for_status()  # warm-up
    times = []
    for _ in range(n):
        began = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - began) * 1000)
    return {
        "n": n,
        "p50_ms": round(percentile(times, 50), 1),
        "p95_ms": round(percentile(times, 95), 1),
        "max_ms": round(max(times), 1),
    }


@contextmanager
def serving(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``tenantcost serve --no-jobs`` on a free loopback port, stopped afterwards."""
    probe = bind("127.0.0.1", 0)
    port = probe.getsockname()[1]
    probe.close()
    command = [sys.executable, "-m", "tenantcost", "serve", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--no-jobs"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, proc, 90)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(30)


# ----------------------------------------------------------------------------- data


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def write_usage(
    conn: Connection, start: datetime, end: datetime, seed: int, console: Console
) -> int:
    """The demo history's insert, one UTC day per statement (bounded, with progress)."""
    settings = get_settings()
    month = month_start(start)
    while month < end:
        conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (month,))
        month = add_months(month, 1)
    rows = 0
    chunks = []
    at = start
    while at < end:
        chunks.append((at, min(at + timedelta(days=1), end)))
        at += timedelta(days=1)
    with progress_bar(console) as progress:
        task = progress.add_task("usage evidence, days", total=len(chunks))
        for first, last in chunks:
            cur = conn.execute(
                history_insert(),
                {
                    "start": start,
                    "end": end,
                    "from": first,
                    "to": last,
                    "seed": seed,
                    "memory_mb": settings.connection_memory_mb,
                    "spike": end - 2 * HOUR,
                },
            )
            rows += cur.rowcount
            progress.advance(task)
    conn.execute("ANALYZE tenant_usage_hourly")
    return rows


def price_window(conn: Connection, start: datetime, end: datetime, console: Console) -> None:
    """Daily cost for every day of the window, hourly cost for its last 8 days (as
    ``load_history`` does), one day per statement with progress."""
    settings = get_settings()
    first, last = start.date(), (end - HOUR).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    with progress_bar(console) as progress:
        task = progress.add_task("pricing days", total=len(days))
        for day in days:
            price_day_range(conn, day, day, settings)
            progress.advance(task)
    price_hours(conn, max(start, end - timedelta(days=8)), end, settings)
    conn.execute("ANALYZE tenant_cost_daily")
    conn.execute("ANALYZE tenant_cost_hourly")


def busiest_month(start: datetime, end: datetime) -> str:
    """The month holding most hours of [start, end)."""
    hours: dict[str, int] = {}
    at = start
    while at < end:
        key = f"{at:%Y-%m}"
        hours[key] = hours.get(key, 0) + 1
        at += HOUR
    return max(sorted(hours), key=lambda k: hours[k])


def sizes(conn: Connection) -> dict[str, int]:
    out = {}
    row: Any = conn.execute("SELECT pg_database_size(current_database()) AS b").fetchone()
    out["database"] = row["b"]
    for table in SIZED_TABLES:
        row = conn.execute(
            """SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS b
                 FROM pg_class c
                WHERE c.oid = %(t)s::regclass
                   OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = %(t)s::regclass)
            """,
            {"t": table},
        ).fetchone()
        out[table] = row["b"]
    return out


# ----------------------------------------------------------------------------- one run


def run_one(tenants: int, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    console.rule(f"{tenants:,} tenants, {args.hours} hours")
    result: dict[str, Any] = {
        "tenants": tenants,
        "hours": args.hours,
        "seed": args.seed,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "note": "2 cores shared with other jobs: noisy, compare ratios",
        },
        "setup": {},
        "steps": {},
    }
    end = hour_of(datetime.now(UTC))
    start = end - args.hours * HOUR
    last_hour = end - HOUR
    month = busiest_month(start, end)
    with tempfile.TemporaryDirectory(prefix="tenantcost-bench-scale-") as tmp:
        server = EmbeddedServer(Path(tmp) / "pg")
        url = server.start()
        env = {
            **os.environ,
            "TENANTCOST_DATABASE_URL": url,
            "TENANTCOST_DATA_DIR": str(Path(tmp) / "data"),
            "COLUMNS": "160",
        }
        env.pop("TENANTCOST_WEBHOOK_URL", None)
        try:
            migrate.upgrade(url)
            with connect(url) as conn:
                for book in shipped_price_books():
                    import_book(conn, book)
                began = time.perf_counter()
                load_demo(conn, tenants=tenants, seed=args.seed, replace=True)
                result["setup"]["load_fleet_s"] = round(time.perf_counter() - began, 1)
                console.print(f"  fleet loaded in {result['setup']['load_fleet_s']} s")
                began = time.perf_counter()
                conn.execute(
                    demo_sql("history_delete"), {"source": DEMO_SOURCE, "from": None, "to": None}
                )
                rows = write_usage(conn, start, end, args.seed, console)
                result["setup"]["usage_rows"] = rows
                result["setup"]["write_usage_s"] = round(time.perf_counter() - began, 1)
                began = time.perf_counter()
                price_window(conn, start, end, console)
                result["setup"]["price_window_s"] = round(time.perf_counter() - began, 1)
                row: Any = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
                postmaster = int(Path(f"/proc/{row['pid']}/stat").read_text().split()[3])
                user = add_user(conn, "bench", "dba", password=None, token=True)
                assert user.token
            hour_arg = f"{last_hour:%Y-%m-%dT%H}:00Z"
            attr_hour = f"{last_hour:%Y-%m-%dT%H}"
            commands = [
                ("attribute --month", ["attribute", "--month", month]),
                ("collector pass", ["collect", "--no-sampler"]),
                ("attribute --hour", ["attribute", "--hour", attr_hour]),
                ("tiers evaluate --hour", ["tiers", "evaluate", "--hour", hour_arg]),
                ("report refresh", ["report", "refresh"]),
            ]
            for name, command in commands:
                result["steps"][name] = asdict(run_command(name, command, env, postmaster, console))
            # The worst case of a month's attribution: every day's evidence changed since it
            # was priced (revision 0016 re-prices only those; before it, every day always).
            with connect(url, autocommit=True) as conn:
                found: Any = conn.execute(
                    "SELECT to_regclass('tenant_usage_changed_days') AS t"
                ).fetchone()
                if found["t"]:
                    conn.execute(
                        "INSERT INTO tenant_usage_changed_days (day) SELECT d::date "
                        "FROM generate_series(%s::date, %s::date, interval '1 day') d "
                        "ON CONFLICT DO NOTHING",
                        (start.date(), last_hour.date()),
                    )
            name = "attribute --month, every day re-priced"
            result["steps"][name] = asdict(
                run_command(name, ["attribute", "--month", month], env, postmaster, console)
            )
            cycle = (
                "collector pass",
                "attribute --hour",
                "tiers evaluate --hour",
                "report refresh",
            )
            result["hourly_cycle_s"] = round(sum(result["steps"][n]["seconds"] for n in cycle), 2)
            with connect(url) as conn:
                row = conn.execute(
                    "SELECT tenant_id FROM tenant_period_figures WHERE period = %(p)s "
                    "ORDER BY total_operational_cost DESC LIMIT 1",
                    {"p": month},
                ).fetchone()
                tenant = str(row["tenant_id"]) if row else ""
            result["web"] = measure_web(env, user.token, tenant, month, args.requests, console)
            with connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
                result["sizes_bytes"] = sizes(conn)
            # Retention (revision 0020): every day but the last RETAIN_DAYS rolled up into
            # daily evidence and its hourly partition dropped, by the real command.
            name = "collect --retention"
            result["steps"][name] = asdict(
                run_command(
                    name,
                    ["collect", "--retention"],
                    {**env, "TENANTCOST_USAGE_HOURLY_DAYS": str(RETAIN_DAYS)},
                    postmaster,
                    console,
                )
            )
            with connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
                result["sizes_after_retention_bytes"] = sizes(conn)
                row = conn.execute(
                    "SELECT count(*) AS days, coalesce(sum(rows), 0) AS rows "
                    "FROM tenant_usage_rolled_days WHERE rows > 0"
                ).fetchone()
                daily_rows: Any = conn.execute(
                    "SELECT count(*) AS n FROM tenant_usage_daily"
                ).fetchone()
            result["retention"] = {
                "hourly_days": RETAIN_DAYS,
                "days_rolled_up": row["days"],
                "hourly_rows_rolled_up": row["rows"],
                "daily_rows": daily_rows["n"],
            }
            months = args.hours / 720
            kept = (
                result["sizes_bytes"]["tenant_usage_hourly"]
                + result["sizes_bytes"]["tenant_cost_daily"]
                + result["sizes_bytes"]["tenant_cost_ledger"]
            )
            result["bytes_per_tenant_month"] = {
                "usage_evidence": round(
                    result["sizes_bytes"]["tenant_usage_hourly"] / tenants / months
                ),
                "daily_cost": round(result["sizes_bytes"]["tenant_cost_daily"] / tenants / months),
                "ledger": round(result["sizes_bytes"]["tenant_cost_ledger"] / tenants),
                "usage_daily_ledger": round(kept / tenants / months),
                "hourly_cost_window": round(result["sizes_bytes"]["tenant_cost_hourly"] / tenants),
            }
            rolled = result["retention"]["days_rolled_up"]
            if rolled:
                daily = result["sizes_after_retention_bytes"]["tenant_usage_daily"]
                result["bytes_per_tenant_month"]["daily_evidence"] = round(
                    daily / tenants / (rolled / DAYS_PER_MONTH)
                )
        finally:
            server.destroy()
    return result


def measure_web(
    env: dict[str, str], token: str, tenant: str, month: str, n: int, console: Console
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with serving(env) as (base, proc):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            for name, path in (("overview", "/"), ("tenant page", f"/tenants/{tenant}")):
                out[name] = {"path": path, **page_times(client, path, n)}
                console.print(
                    f"  {name}: p50 {out[name]['p50_ms']} ms  p95 {out[name]['p95_ms']} ms",
                    markup=False,
                )
            began = time.perf_counter()
            lines = 0
            with client.stream("GET", f"/api/v1/export/focus?period={month}") as response:
                response.raise_for_status()
                for _line in response.iter_lines():
                    lines += 1
            seconds = time.perf_counter() - began
            rows = max(0, lines - 1)  # the header
            out["focus_export"] = {
                "period": month,
                "rows": rows,
                "seconds": round(seconds, 2),
                "rows_per_s": round(rows / seconds) if seconds else None,
                "server_rss_mb": round(_status(proc.pid).get("VmHWM", 0) / 1024, 1),
            }
            console.print(f"  FOCUS export: {out['focus_export']}", markup=False)
    return out


# ----------------------------------------------------------------------------- the table


def table(results: Sequence[dict[str, Any]]) -> str:
    names = [
        "attribute --month",
        "attribute --month, every day re-priced",
        "collector pass",
        "attribute --hour",
        "tiers evaluate --hour",
        "report refresh",
        "collect --retention",
    ]
    head = ["step"] + [f"{r['tenants']:,} t, {r['hours']} h" for r in results]
    rows = [head]
    for name in names:
        cells = [name]
        for r in results:
            s = r["steps"].get(name)
            cells.append(
                f"{s['seconds']:.1f} s, {s['rss_mb']:.0f} MB (pg {s['backend_private_mb']:.0f} MB)"
                + (
                    f", cpu {s['cpu_s']:.1f}+{s['backend_cpu_s']:.1f} s"
                    if "backend_cpu_s" in s
                    else ""
                )
                if s
                else "-"
            )
        rows.append(cells)
    rows.append(["hourly cycle"] + [f"{r['hourly_cycle_s']:.1f} s" for r in results])
    for page in ("overview", "tenant page"):
        rows.append(
            [f"{page} p50/p95"]
            + [f"{r['web'][page]['p50_ms']} / {r['web'][page]['p95_ms']} ms" for r in results]
        )
    rows.append(
        ["FOCUS export"]
        + [
            f"{r['web']['focus_export']['rows']:,} rows, {r['web']['focus_export']['rows_per_s']:,}/s"
            for r in results
        ]
    )
    rows.append(
        ["database size"] + [f"{r['sizes_bytes']['database'] / 1e9:.2f} GB" for r in results]
    )
    rows.append(
        ["B/tenant-month usage+daily+ledger"]
        + [f"{r['bytes_per_tenant_month']['usage_daily_ledger']:,}" for r in results]
    )
    rows.append(
        ["B/tenant-month daily evidence"]
        + [f"{r['bytes_per_tenant_month'].get('daily_evidence', 0):,}" for r in results]
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def run(args: argparse.Namespace) -> int:
    console = Console()
    counts = [int(x) for x in str(args.tenants).split(",") if x.strip()]
    if args.hours < 25:
        console.print("--hours must be at least 25 (a day plus the evaluated hour)")
        return 2
    results = []
    args.json_dir.mkdir(parents=True, exist_ok=True)
    for n in counts:
        result = run_one(n, args, console)
        path = args.json_dir / f"scale_{n}.json"
        path.write_text(json.dumps(result, indent=2, default=str) + "\n")
        console.print(f"  wrote {path}", markup=False)
        results.append(result)
    console.print(table(results), markup=False, highlight=False)
    failed = [n for r in results for n, s in r["steps"].items() if s["exit_code"] != 0]
    return 1 if failed else 0
