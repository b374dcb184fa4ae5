"""CLI start-up benchmark (issue 14): wall time of ``tenantcost --version``, ``--help``,
the help of a few command groups (``report``, ``db``, ``tiers``, ``collect``) and a report
that needs no database (``model cost``), each in a fresh process, as a person would run them.

Targets: < 0.3 s for ``--version`` and ``--help``; < 0.6 s to the first row of a report. The
command groups' help is timed without an aim.
With ``--database`` a throw-away embedded cluster gets the demo fleet and its current month
attributed, and ``report health`` / ``report tenant-costs --top 5`` are timed against it
(the embedded server is found already running, as on a machine where it is up).

Each run's wall time and CPU time (user + system of the child) are recorded; on a busy
machine the CPU time is the steadier figure. tenantcost's bytecode is compiled first
(``compileall``), as a person's own first run leaves it (and a wheel install does at
install time): with ``PYTHONDONTWRITEBYTECODE`` set, as in the sandbox these figures were
first taken in, every run would otherwise compile the package's modules again. ``--src DIR`` times another source tree (e.g.
the base commit unpacked with ``git archive``) with the same interpreter, for a before/after.

``--against DIR`` times a second tree in the same rounds, alternating run by run, so both see
the same load (on a shared machine the CPU ratio is the figure to trust).

``python -m bench cli [--runs 15] [--src DIR] [--against DIR] [--database] [--json FILE]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: (label, arguments, target seconds; None: timed, no aim — the issue's aim is the root's help)
COMMANDS: tuple[tuple[str, tuple[str, ...], float | None], ...] = (
    ("--version", ("--version",), 0.3),
    ("--help", ("--help",), 0.3),
    ("report --help", ("report", "--help"), None),
    ("db --help", ("db", "--help"), None),
    ("tiers --help", ("tiers", "--help"), None),
    ("collect --help", ("collect", "--help"), None),
    ("model cost (first report row)", ("model", "cost"), 0.6),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=15, help="Timed runs per command.")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed runs first (page cache).")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here.")
    parser.add_argument(
        "--src", type=Path, default=None, help="Time this source tree's tenantcost instead."
    )
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        help="Also time this source tree (e.g. the base commit), alternating run by run with "
        "the timed one, so both see the same load on a shared machine.",
    )
    parser.add_argument(
        "--database",
        action="store_true",
        help="Also time reports against a throw-away embedded cluster with the demo fleet.",
    )


#: reports timed with --database: (label, arguments, target seconds)
DB_COMMANDS: tuple[tuple[str, tuple[str, ...], float | None], ...] = (
    ("report health (database)", ("report", "health"), 0.6),
    ("report tenant-costs --top 5 (database)", ("report", "tenant-costs", "--top", "5"), 0.6),
)


@contextlib.contextmanager
def demo_database() -> Iterator[None]:
    """A throw-away embedded cluster with the demo fleet and the current month attributed;
    TENANTCOST_DATA_DIR points the timed commands at it."""
    data_dir = Path(tempfile.mkdtemp(prefix="tc-bench-cli-"))
    saved = os.environ.get("TENANTCOST_DATA_DIR")
    os.environ["TENANTCOST_DATA_DIR"] = str(data_dir)
    from tenantcost.attribution.ledger import attribute_period
    from tenantcost.config import get_settings
    from tenantcost.db import migrate
    from tenantcost.db.connect import connect
    from tenantcost.db.embedded import EmbeddedServer
    from tenantcost.demo.fleet import load_demo
    from tenantcost.telemetry.timeutil import current_month

    get_settings.cache_clear()
    server = EmbeddedServer(data_dir)
    try:
        url = server.start()
        migrate.upgrade(url)
        with connect(url) as conn:
            load_demo(conn, tenants=200, seed=7, replace=True)
            conn.commit()
            attribute_period(conn, current_month(datetime.now(UTC)))
        yield
    finally:
        server.destroy()
        shutil.rmtree(data_dir, ignore_errors=True)
        if saved is None:
            os.environ.pop("TENANTCOST_DATA_DIR", None)
        else:
            os.environ["TENANTCOST_DATA_DIR"] = saved


def executable(src: Path | None = None) -> list[str]:
    """The installed ``tenantcost`` script beside this interpreter, or ``src``'s package."""
    if src is not None:
        # the tree's own entry point (tenantcost.launch since it exists, else cli.main)
        code = (
            f"import sys; sys.path.insert(0, {str(src.resolve())!r}); sys.argv[0] = 'tenantcost'\n"
            "try:\n    from tenantcost.launch import main\n"
            "except ImportError:\n    from tenantcost.cli import main\n"
            "main()"
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


def time_commands(
    base: list[str],
    commands: tuple[tuple[str, tuple[str, ...], float | None], ...],
    runs: int,
    warmup: int,
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    print(f"{'command':<40} {'wall min':>8} {'median':>7} {'max':>7} {'cpu med':>7}  target")
    for label, extra, target in commands:
        argv = [*base, *extra]
        for _ in range(warmup):
            time_once(argv)
        measured = [time_once(argv) for _ in range(runs)]
        times = [wall for wall, _ in measured]
        median = statistics.median(times)
        row = {
            "command": label,
            "runs": runs,
            "min_s": round(min(times), 3),
            "median_s": round(median, 3),
            "max_s": round(max(times), 3),
            "cpu_median_s": round(statistics.median(cpu for _, cpu in measured), 3),
            "target_s": target,
            "met": None if target is None else median < target,
        }
        results.append(row)
        verdict = (
            "(no aim)" if target is None else f"< {target} s " + ("ok" if row["met"] else "MISSED")
        )
        print(
            f"{label:<40} {row['min_s']:>8.3f} {row['median_s']:>7.3f} {row['max_s']:>7.3f}"
            f" {row['cpu_median_s']:>7.3f}  {verdict}"
        )
    return results


def _summary(measured: list[tuple[float, float]]) -> dict[str, float]:
    walls = [wall for wall, _ in measured]
    return {
        "min_s": round(min(walls), 3),
        "median_s": round(statistics.median(walls), 3),
        "cpu_median_s": round(statistics.median(cpu for _, cpu in measured), 3),
    }


def time_against(
    base: list[str],
    other: list[str],
    commands: tuple[tuple[str, tuple[str, ...], float | None], ...],
    runs: int,
    warmup: int,
) -> list[dict[str, Any]]:
    """Each command of both trees, alternating run by run (this tree, then the other), with
    the 1-minute load average at each round; the CPU ratio is the steadier comparison."""
    results: list[dict[str, Any]] = []
    print(f"{'command':<40} {'cpu med':>7} {'other':>7} {'ratio':>6} {'wall med':>8} {'other':>7}")
    for label, extra, target in commands:
        mine, theirs, loads = [], [], []
        for _ in range(warmup):
            time_once([*base, *extra])
            time_once([*other, *extra])
        for _ in range(runs):
            mine.append(time_once([*base, *extra]))
            theirs.append(time_once([*other, *extra]))
            loads.append(os.getloadavg()[0])
        row: dict[str, Any] = {"command": label, "runs": runs, "target_s": target}
        row.update(_summary(mine))
        row["against"] = _summary(theirs)
        row["cpu_ratio"] = round(row["cpu_median_s"] / row["against"]["cpu_median_s"], 3)
        row["load_average_1m"] = [round(min(loads), 2), round(max(loads), 2)]
        results.append(row)
        print(
            f"{label:<40} {row['cpu_median_s']:>7.3f} {row['against']['cpu_median_s']:>7.3f}"
            f" {row['cpu_ratio']:>6.2f} {row['median_s']:>8.3f} {row['against']['median_s']:>7.3f}"
            f"  load {row['load_average_1m'][0]}-{row['load_average_1m'][1]}"
        )
    return results


def compile_package(src: Path | None) -> Path:
    """Compile the timed tenantcost package's modules to bytecode (``__pycache__``)."""
    import compileall

    if src is not None:
        package = src / "tenantcost"
    else:
        import tenantcost

        package = Path(tenantcost.__file__).parent
    compileall.compile_dir(str(package), quiet=1)
    return package


def run(args: argparse.Namespace) -> int:
    compile_package(args.src)
    base = executable(args.src)
    if args.against is not None:
        compile_package(args.against)
    with contextlib.ExitStack() as stack:
        commands = COMMANDS
        if args.database:
            stack.enter_context(demo_database())
            commands = COMMANDS + DB_COMMANDS
        if args.against is not None:
            other = executable(args.against)
            results = time_against(base, other, commands, args.runs, args.warmup)
        else:
            results = time_commands(base, commands, args.runs, args.warmup)
        load = os.getloadavg()[0]
    if args.json is not None:
        payload = {
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "load_average_1m": round(load, 2),
            },
            "source": str(args.src) if args.src else "installed",
            "against": str(args.against) if args.against else None,
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r.get("met", True) for r in results) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
