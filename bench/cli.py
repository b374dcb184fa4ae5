"""CLI start-up benchmark (issue 14): wall time of ``tenantcost --version``, ``--help``,
``report --help`` and a report that needs no database (``model cost``), each in a fresh
process, as a person would run them.

Targets: < 0.3 s for ``--version`` / ``--help``; < 0.6 s to the first row of a report.
No database is started (the timed commands never connect).

Each run's wall time and CPU time (user + system of the child) are recorded; on a busy
machine the CPU time is the steadier figure. ``--src DIR`` times another source tree (e.g.
the base commit unpacked with ``git archive``) with the same interpreter, for a before/after.

``python -m bench cli [--runs 15] [--src DIR] [--json bench/results/cli.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: (label, arguments, target seconds)
COMMANDS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("--version", ("--version",), 0.3),
    ("--help", ("--help",), 0.3),
    ("report --help", ("report", "--help"), 0.6),
    ("model cost (first report row)", ("model", "cost"), 0.6),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=15, help="Timed runs per command.")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed runs first (page cache).")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here.")
    parser.add_argument(
        "--src", type=Path, default=None, help="Time this source tree's tenantcost instead."
    )


def executable(src: Path | None = None) -> list[str]:
    """The installed ``tenantcost`` script beside this interpreter, or ``src``'s package."""
    if src is not None:
        code = (
            f"import sys; sys.path.insert(0, {str(src.resolve())!r}); "
            "sys.argv[0] = 'tenantcost'; from tenantcost.cli import main; main()"
        )
        return [sys.executable, "-c", code]
    script = Path(sys.executable).parent / "tenantcost"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tenantcost"]


def time_once(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run in a fresh process."""
    env = {**os.environ, "COLUMNS": "80"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, timeout=60)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run(args: argparse.Namespace) -> int:
    base = executable(args.src)
    results: list[dict[str, Any]] = []
    print(f"{'command':<32} {'wall min':>8} {'median':>7} {'max':>7} {'cpu med':>7}  target")
    for label, extra, target in COMMANDS:
        argv = [*base, *extra]
        for _ in range(args.warmup):
            time_once(argv)
        measured = [time_once(argv) for _ in range(args.runs)]
        times = [wall for wall, _ in measured]
        median = statistics.median(times)
        row = {
            "command": label,
            "runs": args.runs,
            "min_s": round(min(times), 3),
            "median_s": round(median, 3),
            "max_s": round(max(times), 3),
            "cpu_median_s": round(statistics.median(cpu for _, cpu in measured), 3),
            "target_s": target,
            "met": median < target,
        }
        results.append(row)
        verdict = "ok" if row["met"] else "MISSED"
        print(
            f"{label:<32} {row['min_s']:>8.3f} {row['median_s']:>7.3f} {row['max_s']:>7.3f}"
            f" {row['cpu_median_s']:>7.3f}  < {target} s {verdict}"
        )
    if args.json is not None:
        payload = {
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
            },
            "source": str(args.src) if args.src else "installed",
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
