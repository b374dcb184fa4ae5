"""Streamed exports: the FOCUS export's rows per second and the server's memory as rows grow.

``python -m bench export --rows 20000 200000 1000000 --json bench/results/export.json``

A throw-away embedded PostgreSQL gets a small demo fleet (``--tenants``, its current month
refreshed); then for each ``--rows`` value a month of its own (2001-01, 2001-02, …) gets that
many ledger lines (copies of the current month's lines, each with its own source so the
ledger's key holds). The dashboard runs in a separate process (one worker, jobs off) and each
month's FOCUS export is downloaded in full, smallest first: rows, seconds, rows per second
(wall, loopback, client included), the CPU seconds of the server process, of its PostgreSQL
backends (which build the rows) and of this client, the load average, and the server's peak
resident memory (``VmHWM``) after it.
Streaming holds when the peak stays flat while the rows grow tenfold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from time import process_time
from typing import Any

import httpx

from bench.web import load_average, process_cpu, server_process
from tenantcost.db import migrate
from tenantcost.db.connect import connect
from tenantcost.db.embedded import EmbeddedServer
from tenantcost.demo.fleet import load_demo
from tenantcost.report import refresh_rollups
from tenantcost.web.users import add_user

SYNTHESISE = """
INSERT INTO tenant_cost_periods
SELECT (jsonb_populate_record(NULL::tenant_cost_periods,
        to_jsonb(p) || jsonb_build_object('period', %(month)s::text))).*
  FROM tenant_cost_periods p WHERE p.period = %(source)s;
INSERT INTO tenant_cost_ledger (period, line, tenant_id, driver, source, fidelity, price_book,
                                quantity, unit, unit_price, amount)
SELECT %(month)s, l.line, l.tenant_id, l.driver, l.source || '-' || g, l.fidelity, l.price_book,
       l.quantity, l.unit, l.unit_price, l.amount
  FROM generate_series(1, %(copies)s) g
 CROSS JOIN tenant_cost_ledger l
 WHERE l.period = %(source)s
 LIMIT %(rows)s;
"""


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (``VmHWM``), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def web_backends(url: str) -> list[int]:
    """The server's PostgreSQL backends (its pool's connections; the export uses one of them,
    so their CPU seconds before and after it are what PostgreSQL spent building the rows)."""
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'tenantcost-web'"
        ).fetchall()
    return [int(r["pid"]) for r in rows]


def download(base: str, token: str, month: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    began = time.perf_counter()
    rows = -1  # the header line
    with httpx.stream(
        "GET",
        f"{base}/api/v1/export/focus",
        params={"period": month},
        headers=headers,
        timeout=3600,
    ) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            rows += chunk.count(b"\n")
    seconds = time.perf_counter() - began
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_second": round(rows / seconds)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "tenants": args.tenants,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "exports": [],
    }
    with tempfile.TemporaryDirectory(prefix="tenantcost-bench-export-") as tmp:
        server = EmbeddedServer(Path(tmp))
        url = server.start()
        try:
            migrate.upgrade(url)
            with connect(url) as conn:
                load_demo(conn, tenants=args.tenants, seed=42, replace=True)
                refresh_rollups(conn)
                source = conn.execute("SELECT tenantcost_latest_period() AS p").fetchone()
                assert source
                lines = conn.execute(
                    "SELECT count(*) AS n FROM tenant_cost_ledger WHERE period = %s", (source["p"],)
                ).fetchone()
                assert lines and lines["n"]
                months = []
                for k, rows in enumerate(args.rows, start=1):
                    month = f"2001-{k:02d}"
                    with conn.transaction():
                        for statement in SYNTHESISE.split(";\n")[:2]:
                            conn.execute(
                                statement,
                                {
                                    "month": month,
                                    "source": source["p"],
                                    "rows": rows,
                                    "copies": -(-rows // lines["n"]),
                                },
                            )
                    months.append((month, rows))
                user = add_user(conn, "bench", "dba", password=None, token=True)
                assert user.token
            with server_process(url, 1) as (base, pid):
                results["server_rss_mb_at_start"] = peak_rss_mb(pid)
                for month, rows in months:
                    load, server_cpu, client_cpu = load_average(), process_cpu(pid), process_time()
                    backends = web_backends(url)
                    backends_cpu = sum(map(process_cpu, backends))
                    got = download(base, user.token, month)
                    got["server_cpu_s"] = round(process_cpu(pid) - server_cpu, 2)
                    got["postgres_cpu_s"] = round(sum(map(process_cpu, backends)) - backends_cpu, 2)
                    got["client_cpu_s"] = round(process_time() - client_cpu, 2)
                    got["load_average"] = [load, load_average()]
                    got["server_peak_rss_mb"] = peak_rss_mb(pid)
                    assert got["rows"] == rows, got
                    results["exports"].append({"month": month, **got})
                    print(json.dumps(results["exports"][-1]))
        finally:
            server.destroy()
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenants", type=int, default=200, help="Demo fleet size.")
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[20_000, 200_000],
        help="Ledger lines of each synthetic month, one export per value (smallest first).",
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
