"""One machine vs Citus (issue 16): the same fleet and month of usage, local and distributed.

``python -m bench citus --coordinator postgresql://postgres@127.0.0.1:9700/postgres
--worker postgresql://postgres@127.0.0.1:9701/postgres
--worker postgresql://postgres@127.0.0.1:9702/postgres --tenants 10000 --days 30``

It needs a running Citus cluster whose nodes it can reach as a superuser (it does not build
or start one; docs/citus.md says how to get one). Twice, first on one PostgreSQL (a plain
database on the coordinator's own server, so the same build and settings), then distributed:

1. creates the database ``tenantcost_bench_local`` / ``tenantcost_bench_citus`` (dropped and
   created again: never give it a server whose databases of those names you need); on Citus
   on every node with the ``citus`` extension, the workers added to it;
2. creates the application in the shape it takes on Citus (``tenantcost.demo.app_shape``:
   distributed and reference tables there, the same tables plain here), then each step as the
   real command in its own process (``python -m tenantcost …``), timed, with its peak memory
   and the CPU of every node's backends: ``db upgrade``, on Citus ``db distribute`` (every
   tenantcost table placed), ``demo load``;
3. writes and prices ``--days`` of demo usage up to one fixed hour (``load_history``, the
   same hour for both runs, so both hold the same evidence);
4. the hourly cycle (``collect --no-sampler``, ``attribute --hour``, ``tiers evaluate
   --hour``, ``report refresh``), then ``attribute --month`` for the current month and the
   closed one;
5. the closed month's eight reports as JSON and its FOCUS export (in process), each timed and
   digested, and its days of ``tenant_usage_by_day``: the two runs must be equal byte for
   byte (the current month's figures accrue to the moment they are computed, so they are not
   compared);
6. the dashboard on 127.0.0.1 (``bench.web``): each page ``--requests`` times in a row,
   the FOCUS export over HTTP, and ``--users`` users back to back for ``--seconds``.

Three nodes on one small machine measure correctness and plan shapes, not a speed-up: every
node shares the same cores. Results go to ``--json`` and a side-by-side table is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import conninfo
from rich.console import Console

from bench import web
from bench.scale import run_command
from tenantcost.db.connect import connect
from tenantcost.demo.app_shape import APP_SCHEMA, local_schema
from tenantcost.demo.history import load_history
from tenantcost.web import focus

RESULTS = Path(__file__).parent / "results"
REPORTS = (
    "health",
    "optimization",
    "cost-by-plan",
    "cost-per-email",
    "shared",
    "tenant-costs",
    "cost-drivers",
    "quality",
)
HOURLY_CYCLE = (
    "collect --no-sampler",
    "attribute --hour",
    "tiers evaluate --hour",
    "report refresh",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--coordinator",
        required=True,
        help="Superuser URL of the Citus coordinator's maintenance database (e.g. .../postgres).",
    )
    parser.add_argument(
        "--worker",
        action="append",
        required=True,
        help="Superuser URL of a worker's maintenance database; once per worker.",
    )
    parser.add_argument("--tenants", type=int, default=10_000, help="Demo fleet size.")
    parser.add_argument("--days", type=int, default=30, help="Days of usage history.")
    parser.add_argument("--seed", type=int, default=7, help="Demo fleet and usage seed.")
    parser.add_argument(
        "--requests", type=int, default=10, help="Requests per dashboard page, in a row."
    )
    parser.add_argument("--users", type=int, default=100, help="Concurrent dashboard users.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Concurrent run length.")
    parser.add_argument(
        "--only",
        choices=("local", "citus"),
        default=None,
        help="Run one side only (the other is read from --json when it is there).",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="Results file (default results/citus_N_Dd.json)."
    )


def with_database(url: str, name: str) -> str:
    """``url`` with its database replaced, still in the URL form tenantcost reads."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def postmaster_pid(url: str) -> int:
    """The server's postmaster (this machine's /proc), found from one of its backends."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        stat = Path(f"/proc/{row[0]}/stat").read_text()  # while the backend lives
    return int(stat.rsplit(")", 1)[1].split()[1])


def create_database(args: argparse.Namespace, kind: str) -> str:
    """The run's database, empty; on Citus on every node with the workers added."""
    name = f"tenantcost_bench_{kind}"
    nodes = [args.coordinator, *args.worker] if kind == "citus" else [args.coordinator]
    for node in nodes:
        with psycopg.connect(node, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        if kind == "citus":
            with psycopg.connect(with_database(node, name), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION citus")
    url = with_database(args.coordinator, name)
    if kind == "citus":
        coordinator = conninfo.conninfo_to_dict(args.coordinator)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "SELECT citus_set_coordinator_host(%s, %s)",
                (coordinator.get("host", "localhost"), int(coordinator.get("port") or 5432)),
            )
            for worker in args.worker:
                parts = conninfo.conninfo_to_dict(worker)
                conn.execute(
                    "SELECT citus_add_node(%s, %s)",
                    (parts.get("host", "localhost"), int(parts.get("port") or 5432)),
                )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(APP_SCHEMA if kind == "citus" else local_schema())
    return url


def digest(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def report_json(env: dict[str, str], report: str, month: str) -> tuple[float, bytes]:
    """One report of ``month`` as JSON by the real command: its wall time and its output."""
    began = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tenantcost",
            "report",
            report,
            "--month",
            month,
            "--format",
            "json",
            "--top",
            "0",
        ],
        env=env,
        capture_output=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"report {report} failed: {done.stderr.decode()[-800:]}")
    return time.perf_counter() - began, done.stdout


def closed_month(url: str, env: dict[str, str], month: str) -> dict[str, Any]:
    """The closed month's eight reports, its FOCUS export and its days of
    ``tenant_usage_by_day``: wall time, rows and md5 of each."""
    out: dict[str, Any] = {}
    for report in REPORTS:
        seconds, data = report_json(env, report, month)
        rows = json.loads(data)
        out[f"report {report}"] = {
            "seconds": round(seconds, 2),
            "rows": len(rows) if isinstance(rows, list) else None,
            "md5": digest(data),
        }
    with connect(url) as conn:
        info = focus.period_info(conn, month)
        conn.commit()  # the export sets its own isolation level
        began = time.perf_counter()
        data = b"".join(focus.export_chunks(conn, month, info, "tenantcost", "csv"))
        out["FOCUS export"] = {
            "seconds": round(time.perf_counter() - began, 2),
            "rows": data.count(b"\n") - 1,
            "md5": digest(data),
        }
        began = time.perf_counter()
        row = conn.execute(
            "SELECT count(*) AS n, md5(string_agg(d::text, E'\\n' ORDER BY d.day, d.tenant_id,"
            " d.metric, d.source)) AS md5 FROM tenant_usage_by_day d"
            " WHERE d.day >= %(first)s::date AND d.day < %(first)s::date + interval '1 month'",
            {"first": f"{month}-01"},
        ).fetchone()
        assert row is not None
        out["tenant_usage_by_day"] = {
            "seconds": round(time.perf_counter() - began, 2),
            "rows": row["n"],
            "md5": row["md5"],
        }
        conn.rollback()
    return out


def database_bytes(args: argparse.Namespace, kind: str) -> int:
    """The run's database on every node it lives on."""
    name = f"tenantcost_bench_{kind}"
    total = 0
    for node in [args.coordinator, *args.worker] if kind == "citus" else [args.coordinator]:
        with psycopg.connect(node) as conn:
            row = conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
            total += int(row[0]) if row else 0
    return total


def dashboard(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """``bench.web``'s pages in a row, its FOCUS export over HTTP and one back-to-back run."""
    options = argparse.Namespace(
        repeat=args.requests,
        server_src=None,
        think_ms=[0.0],
        users=args.users,
        seconds=args.seconds,
        max_per_user=200,
        seed=args.seed,
        client="light",
    )
    with connect(url) as conn:
        token, tenant_ids = web.prepare(conn, options, {})
        conn.commit()
    return web.measure(url, options, token, tenant_ids, 1)


def run_one(args: argparse.Namespace, kind: str, now: datetime, console: Console) -> dict[str, Any]:
    """Every step on one side: ``local`` or ``citus``."""
    console.rule(f"{kind}: {args.tenants:,} tenants, {args.days} days of usage")
    url = create_database(args, kind)
    nodes = [args.coordinator, *args.worker] if kind == "citus" else [args.coordinator]
    postmasters = [postmaster_pid(node) for node in nodes]
    env = {**os.environ, "TENANTCOST_DATABASE_URL": url, "COLUMNS": "200"}
    steps: dict[str, Any] = {}
    result: dict[str, Any] = {
        "load_at_start": Path("/proc/loadavg").read_text().split()[0],
        "steps": steps,
    }

    def step(name: str, *command: str) -> float:
        done = run_command(name, command, env, postmasters, console)
        if done.exit_code:
            raise SystemExit(f"{kind}: {name} failed: {done.output_tail}")
        steps[name] = asdict(done)
        return done.seconds

    step("db upgrade", "db", "upgrade")
    if kind == "citus":
        step("db distribute", "db", "distribute")
    step(
        "demo load",
        "demo",
        "load",
        "--tenants",
        str(args.tenants),
        "--seed",
        str(args.seed),
        "--today",
        now.date().isoformat(),
    )
    console.print(f"  [bold]usage history[/]: {args.days} days up to {now:%Y-%m-%d %H:00}")
    began = time.perf_counter()
    last = [began]

    def progress(message: str) -> None:
        if time.perf_counter() - last[0] > 10:
            last[0] = time.perf_counter()
            console.print(f"    {time.perf_counter() - began:6.0f} s  {message}", highlight=False)

    with connect(url) as conn:
        load_history(conn, days=args.days, seed=args.seed, now=now, progress=progress)
        conn.commit()
    steps["usage history"] = {"seconds": round(time.perf_counter() - began, 2)}
    console.print(f"    {steps['usage history']['seconds']:8.2f} s")
    hour = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H")  # the history's last full hour
    step("collect --no-sampler", "collect", "--no-sampler")
    step("attribute --hour", "attribute", "--hour", hour)
    step("tiers evaluate --hour", "tiers", "evaluate", "--hour", hour)
    step("report refresh", "report", "refresh")
    result["hourly_cycle_seconds"] = round(sum(steps[name]["seconds"] for name in HOURLY_CYCLE), 2)
    step("attribute --month (current)", "attribute", "--month", now.strftime("%Y-%m"))
    step("attribute --month (closed)", "attribute", "--month", closed_month_of(now))
    result["closed_month"] = closed_month(url, env, closed_month_of(now))
    result["database_bytes"] = database_bytes(args, kind)
    result["dashboard"] = dashboard(url, args)
    return result


def closed_month_of(now: datetime) -> str:
    return (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def table(results: dict[str, Any]) -> str:
    """Local and Citus side by side, with whether each closed-month output is equal."""
    runs = results["runs"]
    kinds = [kind for kind in ("local", "citus") if kind in runs]
    lines = [f"{'step':44s}" + "".join(f"{kind:>14s}" for kind in kinds)]
    names: list[str] = []
    for kind in kinds:
        names += [name for name in runs[kind]["steps"] if name not in names]
    for name in names:
        cells = [runs[k]["steps"].get(name, {}).get("seconds") for k in kinds]
        lines.append(
            f"{name:44s}"
            + "".join(f"{c:>12.2f} s" if c is not None else f"{'':>14s}" for c in cells)
        )
    lines.append(
        f"{'hourly cycle':44s}"
        + "".join(f"{runs[k]['hourly_cycle_seconds']:>12.2f} s" for k in kinds)
    )
    for name in runs[kinds[0]]["closed_month"]:
        cells = [runs[k]["closed_month"].get(name, {}) for k in kinds]
        equal = ""
        if len(cells) == 2:
            equal = "   equal" if cells[0].get("md5") == cells[1].get("md5") else "   DIFFERENT"
        lines.append(
            f"{name + ' (closed month)':44s}"
            + "".join(f"{c.get('seconds', 0):>12.2f} s" for c in cells)
            + f"   {cells[0].get('rows')} rows"
            + equal
        )
    for kind in kinds:
        pages = runs[kind]["dashboard"]["pages"]
        lines.append(
            f"{kind} dashboard p50/p95 ms: "
            + ", ".join(
                f"{name} {stats['p50_ms']:.0f}/{stats['p95_ms']:.0f}"
                for name, stats in pages.items()
            )
        )
    return "\n".join(lines)


def reachable(args: argparse.Namespace) -> None:
    """Every node answers with Citus available, or one message saying which does not."""
    for node in [args.coordinator, *args.worker]:
        try:
            with psycopg.connect(node, connect_timeout=5) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_available_extensions WHERE name = 'citus'"
                ).fetchone()
        except psycopg.Error as exc:
            raise SystemExit(f"cannot reach {node}: {exc}".strip()) from None
        if not row or not row[0]:
            raise SystemExit(f"{node} has no citus extension available: not a Citus node")


def run(args: argparse.Namespace) -> int:
    reachable(args)
    console = Console(highlight=False)
    path = args.json or RESULTS / f"citus_{args.tenants}_{args.days}d.json"
    results: dict[str, Any] = {
        "tenants": args.tenants,
        "days": args.days,
        "seed": args.seed,
        "runs": {},
    }
    if args.only and path.exists():
        results = json.loads(path.read_text())
    now = (
        datetime.fromisoformat(results["now"])
        if "now" in results
        else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )
    results["now"] = now.isoformat()
    for kind in ("local", "citus"):
        if args.only and kind != args.only:
            continue
        results["runs"][kind] = run_one(args, kind, now, console)
        results["runs"][kind]["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        path.write_text(json.dumps(results, indent=1) + "\n")
    if len(results["runs"]) == 2:
        local, citus = results["runs"]["local"], results["runs"]["citus"]
        results["equal"] = {
            name: local["closed_month"][name]["md5"] == citus["closed_month"][name]["md5"]
            for name in local["closed_month"]
        }
        path.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    console.print(f"results: {path}")
    return 0 if all(results.get("equal", {}).values()) else 1
