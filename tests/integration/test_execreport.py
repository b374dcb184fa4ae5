"""Scheduled executive reports end to end: the jobs runner on an injected clock, a local
SMTP server with STARTTLS and AUTH, the signed webhook, the directory, the PDF."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantcost.config import get_settings
from tenantcost.execreport.run import ScheduledReports
from tests.e2e.webfleet import load_small_fleet
from tests.integration.smtpd import PASSWORD, Mailbox, smtp_env, smtp_server

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    with smtp_server(tmp_path) as box:
        yield box


@pytest.fixture
def fleet_url(use_database: str) -> str:
    load_small_fleet(use_database)  # November 2025: revenue $200.00, cost $69.98
    return use_database


def configure(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def runner(url: str, clock: Clock) -> Any:
    """A fresh jobs runner (a restarted service): the report job on the injected clock, then
    the outbox drain — the order `serve` runs them in."""
    from psycopg_pool import ConnectionPool

    from tenantcost.web.jobs import JobRunner, drain_outbox

    pool: ConnectionPool[Any] = ConnectionPool(
        url, min_size=1, max_size=1, kwargs={"autocommit": True, "row_factory": dict_row}
    )
    jobs = {"scheduled_reports": ScheduledReports(clock), "drain_outbox": drain_outbox}
    return pool, JobRunner(pool, 3600, jobs)


def run_hours(url: str, clock: Clock, hours: int) -> None:
    pool, jobs = runner(url, clock)
    with pool:
        for _ in range(hours):
            jobs.run_once()
            assert all(s.errors == 0 for s in jobs.status.values()), jobs.snapshot()
            clock.now += timedelta(hours=1)


def rows(url: str, query: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(query).fetchall()


def test_a_week_of_demo_time_mails_each_daily_and_the_weekly_report_once(
    fleet_url: str, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, smtp_env(mailbox))
    # Tuesday 2 December 2025 00:30 UTC. Daily at 06:00 (the day before), weekly Mondays
    # 06:00 (the ISO week before), monthly the 1st (next: 1 January, outside this week).
    clock = Clock(datetime(2025, 12, 2, 0, 30, tzinfo=UTC))
    run_hours(fleet_url, clock, 30)  # first start: runs 2 Dec 00:30 .. 3 Dec 05:30
    # Only 2 Dec 06:00 fired so far (the report of 1 Dec, on time). The service is killed
    # and stays down two days; started again (a new runner) on Fri 5 Dec 06:30.
    clock.now += timedelta(days=2)
    run_hours(fleet_url, clock, 3 * 24 + 18)  # 5 Dec 06:30 .. 8 Dec 23:30
    # A second restart right away finds nothing more to do.
    run_hours(fleet_url, clock, 1)

    subjects = sorted(mailbox.subjects())
    daily = [f"tenantcost executive report — daily 2025-12-0{d}" for d in range(1, 8)]
    # Missed while down: 3 Dec 06:00 (the report of 2 Dec) and 4 Dec 06:00 (of 3 Dec), sent
    # once each when the service came back, marked late (more than
    # TENANTCOST_REPORT_LATE_MINUTES = 60 after their time); 5 Dec 06:00 (of 4 Dec) was only
    # 30 minutes old then: on time. Then 6, 7, 8 Dec 06:00, and Monday 8 Dec's weekly
    # report of ISO week 49 (Mon 1 Dec .. Mon 8 Dec).
    expected = [
        daily[0],
        daily[1] + " (late)",
        daily[2] + " (late)",
        daily[3],
        daily[4],
        daily[5],
        daily[6],
        "tenantcost executive report — weekly 2025-W49",
    ]
    assert subjects == sorted(expected)
    assert len(mailbox.messages) == 8  # once each, across two restarts
    assert mailbox.logins == ["reports"] * 8 and mailbox.tls_sessions == 8
    assert mailbox.envelopes[0] == (
        "reports@example.test",
        ["ceo@example.test", "cfo@example.test"],
    )

    weekly = next(m for m in mailbox.messages if "weekly" in str(m["Subject"]))
    html_part = weekly.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "$200.00" in html and "$69.98" in html  # November's figures (the week is December's)
    # (200.00 − 69.98) ÷ 200.00 = 65.01 % → 65.0 %
    assert "65.0%" in html and "provisional" in html
    assert 'src="cid:cost-drivers-chart"' in html
    parts = {p.get_content_type(): p for p in weekly.walk()}
    assert parts["image/png"].get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    assert parts["application/pdf"].get_filename() == "weekly-2025-W49.pdf"
    assert parts["application/pdf"].get_content()[:5] == b"%PDF-"

    runs = rows(
        fleet_url, "SELECT kind, period_start, late, trigger FROM report_runs ORDER BY 1, 2"
    )
    assert len(runs) == 8 and {r["trigger"] for r in runs} == {"schedule"}
    assert [r["period_start"].day for r in runs if r["late"]] == [2, 3]
    statuses = rows(fleet_url, "SELECT channel, status FROM report_deliveries")
    assert statuses == [{"channel": "email", "status": "delivered"}] * 8
    assert PASSWORD not in json.dumps(
        [dict(r) for r in rows(fleet_url, "SELECT * FROM outbox")], default=str
    )
