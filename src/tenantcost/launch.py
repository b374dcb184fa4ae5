"""The ``tenantcost`` command's entry point: the cyclic garbage collector is paused before the
CLI's own modules (Typer, Rich) load, then :func:`tenantcost.cli.main` runs the command and
turns it back on when the command's code starts (see ``cli.collect_garbage_when_run``)."""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    from tenantcost.cli import main as run

    run(collector_paused=True)
