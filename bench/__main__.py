"""``python -m bench bi-views --tenants 10000``: run a benchmark on a throw-away cluster."""

from __future__ import annotations

import argparse
import sys

from bench import bi_views


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="name")
    bi_views.add_arguments(
        sub.add_parser("bi-views", help="BI views vs materialized rollups (seed 000 step 4).")
    )
    args = parser.parse_args(argv if argv is not None else (sys.argv[1:] or ["bi-views"]))
    if args.name == "bi-views":
        return bi_views.run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
