"""CLI start-up benchmark (issue 14): wall time of ``tenantcost --version``, ``--help``,
``report --help`` and a report that needs no database (``model cost``), each in a fresh
process, as a person would run them.

Targets: < 0.3 s for ``--version`` / ``--help``; < 0.6 s to the first row of a report.
No database is started (the timed commands never connect).

``python -m bench cli [--runs 15] [--json bench/results/cli.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def executable() -> list[str]:
    """The installed ``tenantcost`` script beside this interpreter (else ``-m tenantcost``)."""
    script = Path(sys.executable).parent / "tenantcost"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tenantcost"]


def time_once(argv: list[str]) -> float:
    env = {**os.environ, "COLUMNS": "80"}
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, timeout=60)
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> int:
    base = executable()
    results: list[dict[str, Any]] = []
    print(f"{'command':<32} {'min':>7} {'median':>7} {'max':>7}  target")
    for label, extra, target in COMMANDS:
        argv = [*base, *extra]
        for _ in range(args.warmup):
            time_once(argv)
        times = [time_once(argv) for _ in range(args.runs)]
        median = statistics.median(times)
        row = {
            "command": label,
            "runs": args.runs,
            "min_s": round(min(times), 3),
            "median_s": round(median, 3),
            "max_s": round(max(times), 3),
            "target_s": target,
            "met": median < target,
        }
        results.append(row)
        verdict = "ok" if row["met"] else "MISSED"
        print(
            f"{label:<32} {row['min_s']:>7.3f} {row['median_s']:>7.3f} {row['max_s']:>7.3f}"
            f"  < {target} s {verdict}"
        )
    if args.json is not None:
        payload = {
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
