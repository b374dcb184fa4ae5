"""The schedule ``tenantcost serve`` runs beside the web server (unless ``--no-jobs``).

Jobs, each in turn on one background thread, every ``interval`` seconds:

- ``collect``: one pass of the telemetry collector and pricing of its hour into the ledger;
- ``evaluate_tiers``: tier signals and alerts for the hour that has just ended (queued in
  the outbox);
- ``scheduled_reports``: generate the executive reports whose time has come (daily, weekly,
  monthly; once per period, late ones once) and queue their deliveries in the outbox;
- ``drain_outbox``: deliver due outbox events (the webhook), retried with backoff;
- ``refresh_rollups``: recompute the current month's ledger and figures (and close months
  past their closing time) so the pages show what changed;
- ``posthog_export`` (only with TENANTCOST_POSTHOG_HOST and _API_KEY set): at most once per
  TENANTCOST_POSTHOG_INTERVAL, queue new PostHog events and deliver them.

A failing job is logged and counted (``tenantcost_job_errors_total``); the others still run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tenantcost.db.connect import Connection

if TYPE_CHECKING:  # the pool library loads with the server, not with every CLI command
    from psycopg_pool import ConnectionPool

#: Seconds between runs of the dashboard's jobs (collect, refresh rollups, snapshot).
DEFAULT_INTERVAL = 900.0
JOB_POOL_TIMEOUT = 30.0  # seconds a job waits for a pooled connection
log = logging.getLogger("tenantcost.web.jobs")

JobFn = Callable[[Connection], Any]


class CollectorJob:
    """One telemetry pass, then pricing of the hours it booked (``tenantcost collect``'s
    work, once). The backend CPU sampler starts with the first pass when the server's
    processes are visible here, and runs on its own thread until ``close``."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.sampler: Any = None
        self._probed = False

    def __call__(self, conn: Connection) -> None:
        from tenantcost.attribution.hours import price_pass_hours
        from tenantcost.telemetry.collector import Collector
        from tenantcost.telemetry.sampler import start_sampler

        if not self._probed:
            self._probed = True
            self.sampler, why = start_sampler(conn)
            log.info("compute: %s", why)
        report = Collector(conn, interval_s=self.interval, sampler=self.sampler).collect()
        note = price_pass_hours(conn, report.hours)
        if note:
            log.warning("%s", note)

    def close(self) -> None:
        if self.sampler is not None:
            self.sampler.stop(final_tick=False)
            self.sampler = None


def evaluate_tiers(conn: Connection) -> None:
    """Tier signals and alerts for the hour that has just ended (idempotent per hour)."""
    from datetime import UTC, datetime, timedelta

    from tenantcost.tiers.evaluate import evaluate_hour

    finished = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    evaluate_hour(conn, finished)


def scheduled_reports(conn: Connection) -> None:
    """Executive reports whose time has come, generated once per period (issue 17)."""
    from tenantcost.execreport.run import ScheduledReports

    ScheduledReports()(conn)


def drain_outbox(conn: Connection) -> None:
    """Deliver due outbox events (tier webhook, …); failures wait with backoff."""
    from tenantcost.config import get_settings
    from tenantcost.outbox.drain import drain_configured

    report = drain_configured(conn, get_settings())
    if report.failed:
        log.warning("outbox: %d delivered, %d failed attempts", report.delivered, report.failed)


def posthog_jobs() -> dict[str, JobFn]:
    """The PostHog export (at TENANTCOST_POSTHOG_INTERVAL), only when host and key are set."""
    from tenantcost.analytics.cli import PosthogJob
    from tenantcost.analytics.sink import configured
    from tenantcost.config import get_settings

    settings = get_settings()
    return {"posthog_export": PosthogJob(settings)} if configured(settings) else {}


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
            "collect": CollectorJob(interval),
            "evaluate_tiers": evaluate_tiers,
            "scheduled_reports": scheduled_reports,
            "drain_outbox": drain_outbox,
            "refresh_rollups": refresh,
        }
        jobs.update(posthog_jobs())
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
                # jobs are not requests: they may wait for a busy pool longer than the
                # dashboard's short TENANTCOST_WEB_DB_TIMEOUT
                with self.pool.connection(timeout=JOB_POOL_TIMEOUT) as conn:
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
        for fn in self.jobs.values():
            close = getattr(fn, "close", None)
            if close is not None:
                close()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: dict(vars(s)) for name, s in self.status.items()}
