"""Telemetry benchmark (issue 5): attribution accuracy and overhead, on a throw-away cluster.

1. Accuracy: ``tenantcost.telemetry.workload`` drives tenants A, B, C with 4:1:0 units of
   fixed-cost work (``SELECT count(*) FROM generate_series(1, N)``) in database-per-tenant
   mode (attributed from pg_stat_statements) and shared-table mode (tagging library), then
   prices the month; compares each tenant's attributed compute share with the driven share.
2. Tagging overhead: ``SELECT 1`` on a plain psycopg connection vs a tagged one inside
   ``with tenant(…)`` (recorder flushing to the database in the background), interleaved
   rounds, median per-query time.
3. Collector pass: 5,000 distinct pg_stat_statements entries (500 tables x 10 query shapes),
   then one pass with deltas for all of them.

``python -m bench.telemetry [--json bench/results/telemetry.json]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from bench import machine
from tenantcost.attribution.ledger import attribute_period
from tenantcost.db import migrate
from tenantcost.db.connect import connect
from tenantcost.db.embedded import EmbeddedServer
from tenantcost.pricing.book import shipped_price_books
from tenantcost.pricing.store import import_book
from tenantcost.telemetry.collector import Collector
from tenantcost.telemetry.tagging import PostgresSink, Recorder, tagged_connect, tenant
from tenantcost.telemetry.timeutil import current_month
from tenantcost.telemetry.workload import TenantLoad, run_workload

SHAPES = (
    "SELECT a FROM {t}",
    "SELECT count(*) FROM {t}",
    "SELECT a FROM {t} WHERE a = 1",
    "SELECT a FROM {t} WHERE a > 1",
    "SELECT a FROM {t} ORDER BY a",
    "SELECT max(a) FROM {t}",
    "SELECT min(a) FROM {t}",
    "SELECT sum(a) FROM {t}",
    "SELECT avg(a) FROM {t}",
    "SELECT a FROM {t} LIMIT 1",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--units", default="40,10,0", help="Queries for tenants A,B,C.")
    parser.add_argument("--query-rows", type=int, default=200_000, help="N in generate_series.")
    parser.add_argument("--repeat", type=int, default=3, help="Accuracy runs per mode.")
    parser.add_argument("--overhead-queries", type=int, default=2_000, help="Per round.")
    parser.add_argument("--overhead-rounds", type=int, default=15, help="Interleaved rounds.")
    parser.add_argument("--tables", type=int, default=500, help="x 10 shapes = entries.")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here.")


def _companies(url: str, names: list[str]) -> list[tuple[UUID, str]]:
    with connect(url, autocommit=True) as conn:
        out = []
        for name in names:
            row: Any = conn.execute(
                "INSERT INTO companies (name) VALUES (%s) RETURNING id", (name,)
            ).fetchone()
            out.append((UUID(str(row["id"])), name))
        return out


def _compute_by_tenant(url: str, source: str) -> dict[UUID, Decimal]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT tenant_id, sum(quantity) AS q FROM tenant_usage_hourly "
            "WHERE metric = 'compute_seconds' AND source = %s"
            " AND tenant_id <> '00000000-0000-0000-0000-000000000000' "
            "GROUP BY tenant_id",
            (source,),
        ).fetchall()
    return {r["tenant_id"]: r["q"] for r in rows}


def accuracy(url: str, mode: str, units: list[int], query_rows: int, run: int) -> dict[str, Any]:
    names = [f"{mode}-{run}-{letter}" for letter in "ABC"]
    tenants = _companies(url, names)
    loads = [TenantLoad(tid, name, n) for (tid, name), n in zip(tenants, units, strict=True)]
    source = "pg_stat_statements" if mode == "database" else "app"
    before = _compute_by_tenant(url, source)
    started = time.perf_counter()
    result = run_workload(url, loads, mode=mode, query_rows=query_rows)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    if mode == "database":  # what the pass after the workload attributed
        assert result.after is not None
        per = result.after.per_tenant()
        got = {
            load.tenant_id: per.get(load.tenant_id, {}).get("compute_seconds", (Decimal(0), ""))[0]
            for load in loads
        }
    else:  # the tagging library writes straight into the rollup
        after = _compute_by_tenant(url, source)
        got = {
            load.tenant_id: after.get(load.tenant_id, Decimal(0))
            - before.get(load.tenant_id, Decimal(0))
            for load in loads
        }
    total = sum(got.values(), Decimal(0))
    driven = result.driven_shares()
    rows = []
    for load in loads:
        share = float(got[load.tenant_id] / total) if total else 0.0
        want = driven[load.tenant_id]
        rows.append(
            {
                "tenant": load.name,
                "units": load.units,
                "driven_share": round(want, 4),
                "attributed_compute_s": str(got[load.tenant_id]),
                "attributed_share": round(share, 4),
                "relative_error": round((share - want) / want, 4) if want else None,
                "client_seconds": round(result.seconds[load.tenant_id], 4),
            }
        )
    a, b = got[loads[0].tenant_id], got[loads[1].tenant_id]
    return {
        "mode": mode,
        "run": run,
        "source": source,
        "tenants": rows,
        "ratio_a_b": round(float(a / b), 3) if b else None,
        "driven_ratio_a_b": units[0] / units[1] if units[1] else None,
        "seconds": round(elapsed, 2),
        "recorder": result.recorder.__dict__ if result.recorder else None,
    }


def _per_query(run: Callable[[], None], n: int) -> float:
    start = time.perf_counter_ns()
    run()
    return (time.perf_counter_ns() - start) / n / 1000  # microseconds


def overhead(url: str, queries: int, rounds: int) -> dict[str, Any]:
    tid = UUID(int=1)
    recorder = Recorder(PostgresSink(url), flush_interval=1.0)
    plain_times, tagged_times = [], []
    with (
        psycopg.connect(url, autocommit=True) as plain,
        tagged_connect(url, recorder, autocommit=True) as tagged,
    ):

        def run_plain() -> None:
            for _ in range(queries):
                plain.execute("SELECT 1")

        def run_tagged() -> None:
            with tenant(tid):
                for _ in range(queries):
                    tagged.execute("SELECT 1")

        run_plain(), run_tagged()  # warm-up
        for _ in range(rounds):
            plain_times.append(_per_query(run_plain, queries))
            tagged_times.append(_per_query(run_tagged, queries))
    stats = recorder.close()
    # The in-memory part alone: what a query pays on top of the cursor subclass.
    bare = Recorder(None, background=False)
    record_ns = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(queries):
            bare.record(tid, 1000, 1, 1)
        record_ns.append((time.perf_counter_ns() - start) / queries)
    plain_us, tagged_us = statistics.median(plain_times), statistics.median(tagged_times)
    plain_min, tagged_min = min(plain_times), min(tagged_times)
    return {
        "query": "SELECT 1 over TCP 127.0.0.1",
        "queries_per_round": queries,
        "rounds": rounds,
        "plain_us_median": round(plain_us, 2),
        "tagged_us_median": round(tagged_us, 2),
        "added_us": round(tagged_us - plain_us, 2),
        "added_pct": round((tagged_us - plain_us) / plain_us * 100, 2),
        "plain_us_min": round(plain_min, 2),
        "tagged_us_min": round(tagged_min, 2),
        "added_us_min": round(tagged_min - plain_min, 2),
        "added_pct_min": round((tagged_min - plain_min) / plain_min * 100, 2),
        "record_call_ns_median": round(statistics.median(record_ns), 1),
        "plain_us_rounds": [round(x, 2) for x in plain_times],
        "tagged_us_rounds": [round(x, 2) for x in tagged_times],
        "recorder": stats.__dict__,
    }


def collector_pass(url: str, tables: int) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            for i in range(tables):
                conn.execute(f"CREATE TABLE IF NOT EXISTS bench_t{i} (a int)")
                conn.execute(f"INSERT INTO bench_t{i} VALUES (1), (2)")
        conn.execute("SELECT pg_stat_statements_reset()")
    with connect(url, autocommit=True) as tc:
        collector = Collector(tc)
        baseline = collector.collect()
        with psycopg.connect(url, autocommit=True) as conn:
            for i in range(tables):
                for shape in SHAPES:
                    conn.execute(shape.format(t=f"bench_t{i}"))  # type: ignore[call-overload]
        timings = []
        entries = 0
        for _ in range(3):
            with psycopg.connect(url, autocommit=True) as conn:  # touch every entry again
                for i in range(tables):
                    for shape in SHAPES:
                        conn.execute(shape.format(t=f"bench_t{i}"))  # type: ignore[call-overload]
            start = time.perf_counter()
            report = collector.collect()
            timings.append(time.perf_counter() - start)
            entries = report.statements_seen
    return {
        "entries": entries,
        "baseline_pass_s": round(baseline.duration_s, 4),
        "pass_s": [round(t, 4) for t in timings],
        "pass_s_median": round(statistics.median(timings), 4),
    }


def run(args: argparse.Namespace) -> int:
    units = [int(x) for x in args.units.split(",")]
    data_dir = Path(tempfile.mkdtemp(prefix="tenantcost-bench-telemetry-"))
    server = EmbeddedServer(data_dir)
    results: dict[str, Any] = {
        "machine": machine(),
    }
    try:
        url = server.start()
        migrate.upgrade(url)
        with connect(url, autocommit=True) as conn:
            for book in shipped_price_books():
                import_book(conn, book)
        results["accuracy"] = [
            accuracy(url, mode, units, args.query_rows, run)
            for mode in ("database", "shared")
            for run in range(args.repeat)
        ]
        for item in results["accuracy"]:
            shares = ", ".join(
                f"{t['tenant'][-1]} {t['attributed_share']:.3f} (driven {t['driven_share']:.3f})"
                for t in item["tenants"]
            )
            print(f"accuracy {item['mode']:8} run {item['run']}: {shares}; A/B {item['ratio_a_b']}")
        with connect(url, autocommit=True) as conn:
            ledger = attribute_period(conn, current_month())
        # Since revision 0010 a period has one basis (invoice, measured host or list prices),
        # not one ledger per mode.
        results["ledger"] = {
            "basis": ledger.basis,
            "total": str(ledger.total),
            "idle": str(ledger.idle),
            "notes": ledger.notes,
        }
        results["overhead"] = overhead(url, args.overhead_queries, args.overhead_rounds)
        o = results["overhead"]
        print(
            f"tagging overhead (median of rounds): plain {o['plain_us_median']} us, tagged "
            f"{o['tagged_us_median']} us per query (+{o['added_us']} us, {o['added_pct']} %); "
            f"best rounds: {o['plain_us_min']} vs {o['tagged_us_min']} us "
            f"(+{o['added_us_min']} us, {o['added_pct_min']} %); record() "
            f"{o['record_call_ns_median']} ns"
        )
        results["collector"] = collector_pass(url, args.tables)
        c = results["collector"]
        print(
            f"collector pass over {c['entries']} entries: median {c['pass_s_median']} s {c['pass_s']}"
        )
    finally:
        server.destroy()  # also the cluster a root run keeps elsewhere
        shutil.rmtree(data_dir, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.telemetry", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
