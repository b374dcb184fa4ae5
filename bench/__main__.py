"""``python -m bench bi-views|telemetry|cpu-accuracy|web|export|cli|demo|scale|reprice|citus``: run a benchmark on a throw-away cluster."""

from __future__ import annotations

import argparse
import json
import sys

from bench import bi_views, citus, cli, cpu_accuracy, demo, export, reprice, scale, telemetry, web


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="name")
    bi_views.add_arguments(
        sub.add_parser("bi-views", help="BI views vs materialized rollups (seed 000 step 4).")
    )
    telemetry.add_arguments(
        sub.add_parser("telemetry", help="Telemetry accuracy and overhead (issue 5).")
    )
    cpu_accuracy.add_arguments(
        sub.add_parser(
            "cpu-accuracy", help="Per-tenant CPU: sampler vs execution time vs truth (issue 12)."
        )
    )
    export.add_arguments(
        sub.add_parser("export", help="Streamed FOCUS export: rows/s and server memory (issue 15).")
    )
    cli.add_arguments(sub.add_parser("cli", help="CLI start-up: --version, --help (issue 14)."))
    demo.add_arguments(
        sub.add_parser("demo", help="The main job of `make run`, per step (issue 14).")
    )
    scale.add_arguments(
        sub.add_parser("scale", help="The pipeline at N tenants with a month of usage (issue 15).")
    )
    reprice.add_arguments(
        sub.add_parser("reprice", help="A month's full re-price, before and after (issue 15).")
    )
    citus.add_arguments(
        sub.add_parser(
            "citus", help="The same fleet and month local vs a Citus cluster (issue 16)."
        )
    )
    sub.add_parser(
        "web", add_help=False, help="Dashboard pages and 100 concurrent users (issue 8)."
    )
    args, rest = parser.parse_known_args(
        argv if argv is not None else (sys.argv[1:] or ["bi-views"])
    )
    if args.name == "web":
        return web.main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.name == "bi-views":
        return bi_views.run(args)
    if args.name == "telemetry":
        return telemetry.run(args)
    if args.name == "cpu-accuracy":
        return cpu_accuracy.run(args)
    if args.name == "cli":
        return cli.run(args)
    if args.name == "demo":
        return demo.run(args)
    if args.name == "export":
        results = export.run(args)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return 0
    if args.name == "scale":
        return scale.run(args)
    if args.name == "reprice":
        return reprice.run(args)
    if args.name == "citus":
        return citus.run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
