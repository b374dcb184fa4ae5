"""A month's full re-price, before and after (issue 15): ``python -m bench reprice``.

On an embedded PostgreSQL: N demo tenants and ``--hours`` of usage evidence (as ``bench
scale`` writes them), priced once. Then, ``--rounds`` times, each of ``--variants`` in turn
attributes the month with most of the window with every day marked changed:

- ``base``: revision 0010's pricing function, work_mem 4 MB (the server's default), one
  connection — what ``attribute --month`` did before revision 0020;
- ``r0020``: revision 0020's pricing function (per-row rank and arithmetic),
  ``TENANTCOST_PRICING_WORK_MEM_MB`` and ``TENANTCOST_PRICING_CONNECTIONS`` connections;
- ``new``: revision 0024's (sums per day, tenant, metric and source), the same settings.

The callers (``attribute_period``, ``queries.sql``) are the current code's in every variant.
Each run records wall time, the server's CPU seconds (the pricing connections' backends,
utime + stime) and this process's, the load average, the backends' and this process's peak
RSS; the month's total, ledger and daily cost (md5 over their rows as text) must be identical.
Results in ``bench/results/reprice_<N>.json``.

The fleet is built in a throw-away temp dir, or with ``--keep DIR`` in DIR and kept (stopped)
for later runs with ``--reuse DIR`` (building 10,000 tenants' month takes ~30-40 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.scale import HOUR, RESULTS, busiest_month, price_window, write_usage
from tenantcost.attribution.ledger import attribute_period
from tenantcost.config import get_settings
from tenantcost.db import migrate
from tenantcost.db.connect import Connection, connect
from tenantcost.db.embedded import EmbeddedServer
from tenantcost.demo.fleet import load_demo
from tenantcost.pricing.book import shipped_price_books
from tenantcost.pricing.store import import_book
from tenantcost.telemetry.timeutil import hour_of, month_period

SIGNATURE = "(timestamptz, timestamptz, text, text, numeric, text[])"
MIGRATIONS = Path(migrate.__file__).parent / "migrations" / "sql"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenants", type=int, default=1000, help="Demo fleet size.")
    parser.add_argument("--hours", type=int, default=720, help="Hours of usage evidence.")
    parser.add_argument("--rounds", type=int, default=2, help="Runs of each variant.")
    parser.add_argument("--seed", type=int, default=42, help="Demo fleet and usage seed.")
    parser.add_argument("--json-dir", type=Path, default=RESULTS, help="Where the JSON goes.")
    parser.add_argument(
        "--variants",
        default="base,r0020,new",
        help="Comma-separated variants run in turn each round: base (revision 0010's pricing "
        "function, work_mem 4 MB, one connection), r0020 (revision 0020's function) and new "
        "(revision 0024's, the current one; both with the pricing settings).",
    )
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="Build the fleet and its usage in the embedded PostgreSQL data dir DIR (must not "
        "exist) and keep it, stopped, for --reuse (instead of a throw-away temp dir).",
    )
    kept.add_argument(
        "--reuse",
        type=Path,
        metavar="DIR",
        help="Start the fleet a --keep run built in DIR (its tenants, hours and month; "
        "--tenants, --hours and --seed are ignored) and stop it again afterwards.",
    )


def function_text(stem: str, name: str) -> str:
    """``tenantcost_priced_usage`` as a migration's up script defines it, renamed."""
    text = (MIGRATIONS / f"{stem}.up.sql").read_text()
    found = re.search(
        r"CREATE OR REPLACE FUNCTION tenantcost_priced_usage\(.*?\n\$\$;", text, re.DOTALL
    )
    assert found, stem
    return found.group(0).replace("FUNCTION tenantcost_priced_usage(", f"FUNCTION {name}(", 1)


def install(conn: Connection, stem: str) -> None:
    conn.execute(f"DROP FUNCTION IF EXISTS tenantcost_priced_usage{SIGNATURE}")
    conn.execute(function_text(stem, "tenantcost_priced_usage"))
    conn.commit()


def _peak_kb(pid: int) -> int:
    """A process's peak resident memory (VmHWM; for a backend it counts the shared buffers
    it touched)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


VARIANTS = {  # variant: the migration whose pricing function it installs
    "base": "0010_cost_model",
    "r0020": "0020_usage_rollup",
    "new": "0024_priced_sums",
}


def one(url: str, month: str, variant: str) -> dict[str, Any]:
    new = variant != "base"
    base = get_settings()
    settings = base.model_copy(
        update={"pricing_work_mem_mb": base.pricing_work_mem_mb if new else 4}
    )
    helpers = base.pricing_connections - 1 if new else 0
    period = month_period(month)
    with connect(url) as conn:
        install(conn, VARIANTS[variant])
        conn.execute(
            "INSERT INTO tenant_usage_changed_days (day) SELECT d::date FROM "
            "generate_series(%s::date, %s::date, interval '1 day') d ON CONFLICT DO NOTHING",
            (period.start.date(), (period.end - HOUR).date()),
        )
        conn.commit()
        more = [connect(url) for _ in range(helpers)]
        try:
            pids = [
                c.execute("SELECT pg_backend_pid() AS p").fetchone()["p"]  # type: ignore[index]
                for c in (conn, *more)
            ]
            load = Path("/proc/loadavg").read_text().split()[0]
            cpu0, own0, began = [_cpu(p) for p in pids], os.times(), time.perf_counter()
            result = attribute_period(conn, period, settings=settings, more=more)
            seconds = time.perf_counter() - began
            own1, cpu1 = os.times(), [_cpu(p) for p in pids]
            backend_peak = max(_peak_kb(p) for p in pids)
        finally:
            for c in more:
                c.close()
        ledger = conn.execute(
            "SELECT md5(string_agg(concat_ws('|', line, tenant_id, driver, source, price_book, "
            "quantity, amount), ',' ORDER BY line, tenant_id, driver, source, price_book, "
            "amount)) AS h FROM tenant_cost_ledger WHERE period = %s",
            (month,),
        ).fetchone()
        daily = conn.execute(
            "SELECT md5(string_agg(d::text, ',' ORDER BY d::text)) AS h FROM tenant_cost_daily d "
            "WHERE day >= %s AND day < %s",
            (period.start.date(), period.end.date()),
        ).fetchone()
    return {
        "variant": variant,
        "seconds": round(seconds, 2),
        "server_cpu_s": round(sum(cpu1) - sum(cpu0), 2),
        "own_cpu_s": round(own1.user - own0.user + own1.system - own0.system, 2),
        "connections": 1 + helpers,
        "work_mem_mb": settings.pricing_work_mem_mb,
        "loadavg": f"{load}-{Path('/proc/loadavg').read_text().split()[0]}",
        "total": str(result.total),
        "ledger_md5": ledger["h"],  # type: ignore[index]
        "daily_md5": daily["h"],  # type: ignore[index]
        "backend_peak_rss_mb": round(backend_peak / 1024, 1),
        "own_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


BUILT = "reprice.json"  # in a --keep dir: what was built there


def build(url: str, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """N demo tenants and ``--hours`` of usage evidence up to the current hour, priced once."""
    end = hour_of(datetime.now(UTC))
    start = end - args.hours * HOUR
    month = busiest_month(start, end)
    out: dict[str, Any] = {"tenants": args.tenants, "hours": args.hours, "month": month}
    migrate.upgrade(url)
    with connect(url) as conn:
        for book in shipped_price_books():
            import_book(conn, book)
        load_demo(conn, tenants=args.tenants, seed=args.seed, replace=True)
        out["usage_rows"] = write_usage(conn, start, end, args.seed, console)
        price_window(conn, start, end, console)
        conn.commit()
    return out


def measure(url: str, out: dict[str, Any], args: argparse.Namespace, console: Console) -> None:
    out["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    runs = []
    for _ in range(args.rounds):
        for variant in args.variants.split(","):
            runs.append(one(url, out["month"], variant.strip()))
            console.print(runs[-1], highlight=False)
    out["runs"] = runs


def run(args: argparse.Namespace) -> int:
    console = Console()
    if args.reuse is not None:
        built = args.reuse / BUILT
        if not built.exists():
            console.print(f"{args.reuse} holds no fleet a --keep run built ({built} missing)")
            return 2
        out: dict[str, Any] = json.loads(built.read_text())
        server = EmbeddedServer(args.reuse)
        try:
            url = server.start()
            migrate.upgrade(url)  # a fleet kept before a new revision gets it
            measure(url, out, args, console)
        finally:
            server.stop()
    elif args.keep is not None:
        if args.keep.exists():
            console.print(f"{args.keep} exists: --keep builds a new fleet in a new directory")
            return 2
        server = EmbeddedServer(args.keep)
        try:
            url = server.start()
            out = build(url, args, console)
            (args.keep / BUILT).write_text(json.dumps(out, indent=2) + "\n")
            measure(url, out, args, console)
        finally:
            server.stop()
    else:
        with tempfile.TemporaryDirectory(prefix="tenantcost-bench-reprice-") as tmp:
            server = EmbeddedServer(Path(tmp) / "pg")
            try:
                url = server.start()
                out = build(url, args, console)
                measure(url, out, args, console)
            finally:
                server.destroy()
    same = {(r["total"], r["ledger_md5"], r["daily_md5"]) for r in out["runs"]}
    out["identical"] = len(same) == 1
    console.print(f"every run gave the same total, ledger and daily cost: {out['identical']}")
    args.json_dir.mkdir(parents=True, exist_ok=True)
    path = args.json_dir / f"reprice_{out['tenants']}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    console.print(f"wrote {path}")
    return 0 if out["identical"] else 1
