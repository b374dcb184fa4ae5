"""Run by test_execreport in a child process: generate the reports due at a fixed time and
die by SIGKILL — inside the transaction that records the run (mode ``in-transaction``) or
right after it committed, before any delivery (mode ``after-commit``)."""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime
from typing import Any

from tenantcost.db.connect import connect
from tenantcost.execreport import run


def die(*args: Any, **kwargs: Any) -> bool:
    os.kill(os.getpid(), signal.SIGKILL)
    return False  # never reached


def main() -> None:
    mode, when = sys.argv[1], datetime.fromisoformat(sys.argv[2]).astimezone(UTC)
    if mode == "in-transaction":
        run.enqueue = die  # the run's row is written; the kill comes before the commit
    with connect(autocommit=True) as conn:
        run.ScheduledReports(lambda: when)(conn)
    die()  # after-commit: generated and queued, never delivered


if __name__ == "__main__":
    main()
