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


class _Hook(BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_next: ClassVar[int] = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.requests.append((dict(self.headers), body))
        failing = _Hook.fail_next > 0
        _Hook.fail_next -= 1
        self.send_response(500 if failing else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.requests, _Hook.fail_next = [], 0
    yield f"http://127.0.0.1:{server.server_address[1]}/reports"
    server.shutdown()
    server.server_close()


SECRET = "report-hook-secret"


def expected_signature(timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of "<timestamp>.<body>" with the shared secret, worked out here."""
    digest = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from tenantcost.cli import app

    return CliRunner().invoke(app, list(args))


def test_send_now_by_webhook_and_directory_with_a_readable_pdf(
    fleet_url: str, hook: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pypdfium2

    out = tmp_path / "reports"
    configure(
        monkeypatch,
        {
            "TENANTCOST_REPORT_WEBHOOK_URL": hook,
            "TENANTCOST_REPORT_WEBHOOK_SECRET": SECRET,
            "TENANTCOST_REPORT_DIR": str(out),
        },
    )
    sent = cli("report", "send", "--kind", "monthly", "--period", "2025-11", "--format", "json")
    assert sent.exit_code == 0, sent.output
    result = json.loads(sent.stdout)
    assert sorted((r["channel"], r["status"]) for r in result) == [
        ("directory", "delivered"),
        ("webhook", "delivered"),
    ]
    headers, body = _Hook.requests[0]
    assert headers["X-Tenantcost-Signature"] == expected_signature(
        headers["X-Tenantcost-Timestamp"], body
    )
    payload = json.loads(body)
    assert payload["event_id"] == "report:monthly:2025-11:webhook:manual-1"
    assert (payload["kind"], payload["period"], payload["late"]) == ("monthly", "2025-11", False)
    assert payload["summary"]["revenue"] == "200.000000"
    assert payload["summary"]["cost"] == "69.980000"
    assert payload["summary"]["provisional"] is True
    assert SECRET not in body.decode()

    pdf_bytes = (out / "monthly-2025-11.pdf").read_bytes()
    assert base64.b64decode(payload["pdf_base64"]) == pdf_bytes
    assert (out / "monthly-2025-11.html").read_text().startswith("<!doctype html>")
    pdf = pypdfium2.PdfDocument(pdf_bytes)
    assert 1 <= len(pdf) <= 4
    text = pdf[0].get_textpage().get_text_range()
    assert "Executive report — monthly 2025-11" in text
    assert "$200.00" in text and "$69.98" in text and "65.0%" in text and "provisional" in text
    image = pdf[0].render(scale=1).to_pil().convert("L")
    image.save(tmp_path / "page1.png")
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 50  # text and a chart, not a blank page
    dark = sum(n for n, level in colours if level < 128)
    assert dark > 2000  # pixels of ink on the first page

    # Sent again by hand: a second delivery of the same run (its own dedupe key).
    again = cli("report", "send", "--kind", "monthly", "--period", "2025-11", "--format", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(_Hook.requests[1][1])["event_id"] == "report:monthly:2025-11:webhook:manual-2"
    history = json.loads(cli("report", "sent", "--format", "json").stdout)
    assert len(history) == 4 and {h["period"] for h in history} == {"2025-11"}
    assert {h["trigger"] for h in history} == {"manual"}
    assert {h["figures"] for h in history} == {"provisional"}


def test_slack_text_and_a_failing_webhook_is_retried_not_fatal(
    fleet_url: str, hook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(
        monkeypatch,
        {
            "TENANTCOST_REPORT_WEBHOOK_URL": hook,
            "TENANTCOST_REPORT_WEBHOOK_SECRET": SECRET,
            "TENANTCOST_REPORT_WEBHOOK_FORMAT": "slack",
            "TENANTCOST_OUTBOX_BACKOFF_SECONDS": "0.001",
            "TENANTCOST_OUTBOX_BACKOFF_MAX_SECONDS": "0.001",
        },
    )
    _Hook.fail_next = 1
    sent = cli("report", "send", "--kind", "daily", "--period", "2025-11-30", "--format", "json")
    assert sent.exit_code == 1  # the one attempt failed: it waits in the outbox
    assert json.loads(sent.stdout)[0]["status"] == "retrying: HTTP 500"
    drained = cli("outbox", "drain", "--sink", "report_webhook", "--format", "json")
    assert drained.exit_code == 0, drained.output
    assert len(_Hook.requests) == 2
    headers, body = _Hook.requests[1]
    assert headers["X-Tenantcost-Signature"] == expected_signature(
        headers["X-Tenantcost-Timestamp"], body
    )
    text = json.loads(body)["text"]
    assert list(json.loads(body)) == ["text"]
    assert text.splitlines()[0] == "*Executive report — daily 2025-11-30*"
    assert "Revenue $200.00 · Cost $69.98 · Margin 65.0%" in text
    assert "Figures of 2025-11: provisional." in text
    history = json.loads(cli("report", "sent", "--format", "json").stdout)
    assert [h["status"] for h in history] == ["delivered"]


def test_smtp_down_then_up_delivers_once_and_schedule_lists_the_next_times(
    fleet_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server(tmp_path) as box:
        port = box.port
        env = smtp_env(box)
    configure(monkeypatch, {**env, "TENANTCOST_OUTBOX_BACKOFF_SECONDS": "0.001"})
    sent = cli("report", "send", "--kind", "weekly", "--period", "2025-W48", "--format", "json")
    assert sent.exit_code == 1
    status = json.loads(sent.stdout)[0]["status"]
    assert status.startswith(f"retrying: cannot reach SMTP 127.0.0.1:{port}")
    assert PASSWORD not in sent.output
    # the server comes back on the same port: the next drain delivers it, once
    with smtp_server(tmp_path, port=port) as box2:  # a new certificate, same CA file path
        for _ in range(2):
            assert cli("outbox", "drain", "--format", "json").exit_code == 0
        assert box2.subjects() == ["tenantcost executive report — weekly 2025-W48"]
        to = cli(
            "report", "send", "--kind", "daily", "--period", "2025-11-29", "--to", "boss@x.test"
        )
        assert to.exit_code == 0, to.output
        assert box2.envelopes[-1] == ("reports@example.test", ["boss@x.test"])
        assert box2.subjects()[-1] == "tenantcost executive report — daily 2025-11-29"
    schedule = json.loads(cli("report", "schedule", "--next", "2", "--format", "json").stdout)
    assert [(r["kind"], r["cron_utc"]) for r in schedule] == [
        ("daily", "0 6 * * *"),
        ("daily", "0 6 * * *"),
        ("weekly", "0 6 * * 1"),
        ("weekly", "0 6 * * 1"),
        ("monthly", "0 6 1 * *"),
        ("monthly", "0 6 1 * *"),
    ]
    weekly = [r for r in schedule if r["kind"] == "weekly"]
    first = datetime.fromisoformat(weekly[0]["next_at"])
    assert first.weekday() == 0 and (first.hour, first.minute) == (6, 0)
    assert datetime.fromisoformat(weekly[1]["next_at"]) - first == timedelta(days=7)
    assert weekly[0]["last_period"] == "2025-W48"
    assert "email (ceo@example.test, cfo@example.test)" in weekly[0]["delivered_to"]
    # looking at the schedule does not start it (the scheduler anchors when it first runs)
    assert rows(fleet_url, "SELECT * FROM report_schedule_state") == []


def test_the_window_shows_its_own_signals_alerts_and_usage_cost(fleet_url: str) -> None:
    from tenantcost.db.connect import connect
    from tenantcost.execreport.content import Rendered, report_values
    from tenantcost.execreport.schedule import Kind, parse_period
    from tests.e2e.webfleet import ACME

    with connect(fleet_url) as conn:
        for hour, level in (
            ("2025-11-26 13:00+00", "soft_throttle"),
            ("2025-11-20 09:00+00", "hard_throttle"),
        ):
            conn.execute(
                "INSERT INTO tier_decisions (tenant_id, tier, hour, from_level, to_level, ceiling, "
                "figure, ceiling_value, ratio) VALUES (%s, 'PRO', %s, 'normal', %s, 'cost', 3, 2, 1.5)",
                (ACME, hour, level),
            )
        conn.execute(
            "INSERT INTO tier_alerts (kind, subject, opened_at, last_seen_at, message) VALUES "
            "('margin_floor', 'Acme', '2025-11-25 10:00+00', '2025-11-25 10:00+00', "
            "'Acme below its margin floor'), ('outlier', 'Bolt', '2025-11-10 10:00+00', "
            "'2025-11-10 10:00+00', 'old news')"
        )
        daily = (
            "INSERT INTO tenant_cost_daily (day, line, tenant_id, driver, source, kind, price_book, "
            "quantity, unit, unit_price, amount) VALUES (%s, 'tenant', %s, %s, 'test', 'usage', "
            "'railway-2025-11', 1, 'unit', %s, %s)"
        )
        # In ISO week 48 (24..30 Nov): 1.25 + 0.50 + 0.05 = 1.80; the week before: 0.70.
        for day, driver, amount in (
            ("2025-11-24", "compute", "1.25"),
            ("2025-11-30", "storage", "0.50"),
            ("2025-11-27", "network", "0.05"),
            ("2025-11-23", "compute", "0.70"),
            ("2025-12-01", "compute", "9.00"),  # the week after: not counted
        ):
            conn.execute(daily, (day, ACME, driver, amount, amount))
        values = report_values(conn, parse_period(Kind.weekly, "2025-W48"))
    assert [(s["to_level"], s["company_name"]) for s in values["signals"]] == [
        ("soft_throttle", "Acme")
    ]
    assert [a["subject"] for a in values["alerts"]] == ["Acme"]
    assert str(values["usage"]["now"]) == "1.800000000000"
    assert str(values["usage"]["before"]) == "0.700000000000"
    html = Rendered(values, pdf=False).html
    assert "New tier signals in this window (1)" in html and "normal → soft_throttle" in html
    assert "Acme below its margin floor" in html and "old news" not in html
    assert "$1.80" in html and "$0.70" in html


def test_kill_9_inside_and_after_the_transaction_sends_once(
    fleet_url: str, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal
    import subprocess
    import sys

    env_values = {**smtp_env(mailbox), "TENANTCOST_DATABASE_URL": fleet_url}
    configure(monkeypatch, env_values)
    clock = Clock(datetime(2025, 12, 2, 0, 30, tzinfo=UTC))
    run_hours(fleet_url, clock, 1)  # the scheduler first sees the kinds at 00:30: nothing due
    root = Path(__file__).parents[2]
    env = {**os.environ, **env_values}
    at = "2025-12-02T06:30:00+00:00"  # 2 Dec 06:00 has fired: the daily report of 1 Dec
    for mode in ("in-transaction", "after-commit"):
        child = subprocess.run(
            [sys.executable, "-m", "tests.integration.killed_reporter", mode, at],
            cwd=root,
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
        runs = rows(fleet_url, "SELECT kind FROM report_runs")
        # killed inside the transaction: nothing recorded; after the commit: one run, queued
        assert len(runs) == (0 if mode == "in-transaction" else 1), mode
    assert mailbox.messages == []
    clock.now = datetime(2025, 12, 2, 6, 30, tzinfo=UTC)
    run_hours(fleet_url, clock, 2)  # the restarted service: nothing new to generate; drains
    assert mailbox.subjects() == ["tenantcost executive report — daily 2025-12-01"]
    assert rows(fleet_url, "SELECT late, trigger FROM report_runs") == [
        {"late": False, "trigger": "schedule"}
    ]
