"""The main job behind ``make run`` (issue 14): wall time per step, and the CPU it costs.

Runs ``tenantcost demo run --no-serve`` in-process on a throw-away embedded cluster: once on a
fresh data directory (the first ``make run``: initdb, fleet and 60 days of history), once
again as is (a second ``make run``: it reuses the fleet and its history), then ``--runs``
times with ``--reload`` (``demo run --reload`` replaces the fleet and its history, deleting
the old 1.2 million evidence rows first). For each run, the wall seconds of every step and
the CPU seconds of this process and of the PostgreSQL server (postmaster, its live children,
and the children it reaped).

Target: the main job, history included, under 30 s on a 2-core machine after the venv exists
— the first and the second ``make run``. On a shared machine the wall time swings with the
load; the CPU seconds do not, and ``cpu / cores`` is the floor an idle machine could reach.

``python -m bench demo [--runs 2] [--tenants 200] [--json bench/results/demo.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import machine

TARGET_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs", type=int, default=1, help="Timed --reload runs after the first two."
    )
    parser.add_argument("--tenants", type=int, default=200, help="Demo fleet size.")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here.")


def _ticks(fields: list[str], *indexes: int) -> float:
    return sum(int(fields[i]) for i in indexes) / os.sysconf("SC_CLK_TCK")


def server_cpu(postmaster: int) -> float:
    """CPU seconds of the server so far: the postmaster with its reaped children's time, plus
    each live child (backends, checkpointer, WAL writer...)."""
    proc = Path("/proc")

    def stat(pid: int) -> list[str]:
        return (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()

    total = _ticks(stat(postmaster), 11, 12, 13, 14)  # utime stime cutime cstime
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = stat(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == postmaster:  # ppid
            total += _ticks(fields, 11, 12)
    return total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_run(tenants: int, reload: bool, label: str) -> dict[str, Any]:
    from rich.console import Console

    from tenantcost.db.connect import database_url
    from tenantcost.demo.main_job import run_main_job

    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
    before_own = own_cpu()
    postmaster, before_server = None, 0.0
    if label != "fresh":
        postmaster = _postmaster(database_url())
        before_server = server_cpu(postmaster)
    started = time.perf_counter()
    state = run_main_job(tenants=tenants, seed=7, reload=reload, serve=False, port=0, console=quiet)
    wall = time.perf_counter() - started
    postmaster = postmaster or _postmaster(state.url)
    return {
        "run": label,
        "wall_s": round(wall, 2),
        "steps_s": {k: round(v, 2) for k, v in state.seconds.items()},
        "client_cpu_s": round(own_cpu() - before_own, 2),
        "server_cpu_s": round(server_cpu(postmaster) - before_server, 2),
    }


def _postmaster(url: str) -> int:
    from tenantcost.db.connect import connect

    with connect(url) as conn:
        row: Any = conn.execute("SHOW data_directory").fetchone()
    return int((Path(row["data_directory"]) / "postmaster.pid").read_text().split()[0])


def run(args: argparse.Namespace) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="tc-bench-demo-"))
    os.environ["TENANTCOST_DATA_DIR"] = str(data_dir)
    os.environ.pop("TENANTCOST_DATABASE_URL", None)
    from tenantcost.config import get_settings

    get_settings.cache_clear()
    results = []
    try:
        plan = [("fresh", False), ("again", False)] + [("reload", True)] * args.runs
        for label, reload in plan:
            row = one_run(args.tenants, reload, label)
            results.append(row)
            cores = os.cpu_count() or 1
            floor = (row["client_cpu_s"] + row["server_cpu_s"]) / cores
            print(
                f"{row['run']:<7} wall {row['wall_s']:6.2f} s  cpu client {row['client_cpu_s']:.2f}"
                f" s + server {row['server_cpu_s']:.2f} s (idle floor ~{floor:.1f} s)"
                f"  load {os.getloadavg()[0]:.2f}"
            )
            for step, seconds in row["steps_s"].items():
                print(f"          {seconds:6.2f}  {step}")
    finally:
        from tenantcost.db.embedded import EmbeddedServer

        EmbeddedServer(data_dir).destroy()
        shutil.rmtree(data_dir, ignore_errors=True)
    made = {r["run"]: r["wall_s"] for r in results if r["run"] in ("fresh", "again")}
    met = all(seconds < TARGET_S for seconds in made.values())
    print(
        f"first make run {made['fresh']:.2f} s, second {made['again']:.2f} s "
        f"(target < {TARGET_S:.0f} s): {'met' if met else 'MISSED'}"
    )
    if args.json is not None:
        payload = {"machine": machine(), "target_s": TARGET_S, "results": results}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0 if met else 1
