"""The schedule ``tenantcost serve`` runs beside the web server (unless ``--no-jobs``).

Jobs, each in turn on one background thread, every ``interval`` seconds:

- ``collect``: one pass of the telemetry collector and pricing of its hour into the ledger;
- ``evaluate_tiers``: tier signals and alerts for the hour that has just ended;
- ``refresh_rollups``: refresh the BI rollups the pages read;
- ``snapshot``: today's per-plan revenue and cost (the overview's margin trend).

A failing job is logged and counted (``tenantcost_job_errors_total``); the others still run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import ConnectionPool

from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.web.data import take_snapshot

log = logging.getLogger("tenantcost.web.jobs")

JobFn = Callable[[Connection], Any]


def collector_job(interval: float) -> JobFn:
    """One telemetry pass, then pricing of its hour (``tenantcost collect``'s work, once)."""
    from tenantcost.attribution.ledger import attribute_period
    from tenantcost.telemetry.collector import collect_once
    from tenantcost.telemetry.timeutil import hour_period

    def collect(conn: Connection) -> None:
        report = collect_once(conn, interval_s=interval)
        try:
            attribute_period(conn, hour_period(report.hour))
        except UserError as exc:  # e.g. no price book in force: the usage is kept
            log.warning("hourly pricing skipped: %s; fix: %s", exc.message, exc.hint or "-")

    return collect


def evaluate_tiers(conn: Connection) -> None:
    """Tier signals and alerts for the hour that has just ended (idempotent per hour)."""
    from datetime import UTC, datetime, timedelta

    from tenantcost.tiers.cli import webhook_sender
    from tenantcost.tiers.evaluate import evaluate_hour

    finished = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    evaluate_hour(conn, finished, sender=webhook_sender())


def refresh(conn: Connection) -> None:
    from tenantcost.report import refresh_rollups

    refresh_rollups(conn)


@dataclass
class JobStatus:
    runs: int = 0
    errors: int = 0
    last_run: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    last_seconds: float | None = None


@dataclass
class JobRunner:
    pool: ConnectionPool[Any]
    interval: float
    jobs: dict[str, JobFn] = field(default_factory=dict)
    status: dict[str, JobStatus] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @classmethod
    def default(cls, pool: ConnectionPool[Any], interval: float) -> JobRunner:
        jobs: dict[str, JobFn] = {
            "collect": collector_job(interval),
            "evaluate_tiers": evaluate_tiers,
            "refresh_rollups": refresh,
            "snapshot": take_snapshot,
        }
        return cls(pool, interval, jobs, {name: JobStatus() for name in jobs})

    @property
    def collector_configured(self) -> bool:
        return "collect" in self.jobs

    def run_once(self) -> None:
        for name, fn in self.jobs.items():
            if self._stop.is_set():
                return
            status = self.status.setdefault(name, JobStatus())
            started = time.time()
            status.runs += 1
            status.last_run = started
            try:
                with self.pool.connection() as conn:
                    fn(conn)
            except Exception as exc:  # a failing job must not stop the others or the server
                status.errors += 1
                status.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("job %s failed", name)
            else:
                status.last_success = time.time()
            status.last_seconds = time.time() - started

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tenantcost-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: dict(vars(s)) for name, s in self.status.items()}
