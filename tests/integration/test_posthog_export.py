"""The PostHog export end to end: figures and tier signals on a real database, queued in the
outbox, delivered by the official ``posthog`` client to a receiver on 127.0.0.1 that speaks
PostHog's capture API (``POST /batch/``, gzip JSON body with ``api_key`` and ``batch``), as
the client's source sends it. The receiver dedupes on the event uuid the way PostHog does, and
counts repeats, so "exactly once" is checked at the receiver.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

from tenantcost.analytics.export import export
from tenantcost.cli import app
from tenantcost.config import get_settings, load_settings
from tenantcost.outbox import configured_sinks, drain, enqueue
from tenantcost.tiers.evaluate import evaluate_hour
from tests.integration.loopback import serving, stderr_lines
from tests.integration.test_tiers import H0, add_tenant, refresh, set_hour_cost

pytestmark = pytest.mark.db
Conn = psycopg.Connection[dict[str, Any]]
KEY = "phc_test_project_key_0123456789"
#: Written out here, not imported: the export's uuids must never change.
NAMESPACE = uuid.UUID("0b6f5a52-7d0e-5d8e-9a57-3c1f2e4b6d81")
NOW = datetime(2026, 11, 21, 6, tzinfo=UTC)


class PostHog(ThreadingHTTPServer):
    """A PostHog capture endpoint: ``/batch/`` and ``/capture/`` take ``{"api_key": …,
    "batch": [events]}`` (gzip when the body says so); a wrong key gets 401 with the key
    echoed (a receiver that leaks it); the first ``fail_first`` requests get 500."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), PostHogHandler)
        self.lock = threading.Lock()
        self.events: dict[str, dict[str, Any]] = {}  # uuid -> event, kept once (PostHog dedupe)
        self.repeats: list[dict[str, Any]] = []  # an event whose uuid was already kept
        self.requests = 0
        self.paths: list[str] = []
        self.encodings: list[str] = []
        self.fail_first = 0
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.events.values())


class PostHogHandler(BaseHTTPRequestHandler):
    server: PostHog

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        body = json.loads(gzip.decompress(raw) if encoding == "gzip" else raw)
        with self.server.lock:
            self.server.requests += 1
            self.server.paths.append(self.path)
            self.server.encodings.append(encoding)
            failing = self.server.fail_first > 0
            if failing:
                self.server.fail_first -= 1
        if self.path not in ("/batch/", "/capture/"):
            return self._answer(404, b'{"detail": "not found"}')
        if failing:
            return self._answer(500, b'{"detail": "server error"}')
        if body.get("api_key") != KEY:
            echo = json.dumps({"detail": f"invalid key {body.get('api_key')}"}).encode()
            return self._answer(401, echo)
        with self.server.lock:
            for event in body["batch"]:
                if event["uuid"] in self.server.events:
                    self.server.repeats.append(event)
                else:
                    self.server.events[event["uuid"]] = event
        if self.server.delay:
            time.sleep(self.server.delay)  # accepted, the answer still on its way
        self._answer(200, b'{"status": 1}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def posthog() -> Iterator[PostHog]:
    with serving(PostHog()) as server:
        yield server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, posthog: PostHog, use_database: str) -> Iterator[str]:
    monkeypatch.setenv("TENANTCOST_POSTHOG_HOST", posthog.url)
    monkeypatch.setenv("TENANTCOST_POSTHOG_API_KEY", KEY)
    monkeypatch.setenv("TENANTCOST_POSTHOG_TIMEOUT", "5")
    get_settings.cache_clear()
    yield use_database
    get_settings.cache_clear()


@pytest.fixture
def conn(env: str) -> Iterator[Conn]:
    with psycopg.connect(env, autocommit=True, row_factory=dict_row) as c:
        yield c


def fleet(conn: Conn) -> dict[str, uuid.UUID]:
    """Two STARTER tenants ($5 plan): acme runs at 1.60/month in hour 0 against the 1.00 cost
    ceiling (160 %: soft throttle), calm uses nothing; November is attributed to the end of
    20 November, so that day is complete."""
    conn.execute("INSERT INTO plans (name, price_monthly) VALUES ('Starter', 5)")
    conn.execute("INSERT INTO plan_tiers SELECT id, 'STARTER' FROM plans")
    tenants = {name: add_tenant(conn, "Starter", name) for name in ("acme", "calm")}
    set_hour_cost(conn, tenants["acme"], 0, "1.60")
    refresh(conn, 0)
    evaluate_hour(conn, H0)
    refresh(conn, 23)  # covered until 2026-11-21 00:00
    return tenants


def sinks() -> dict[str, Any]:
    return configured_sinks(load_settings(), "posthog")


def ph_uuid(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, key))


def by_event(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


def test_export_sends_the_signals_and_figures_in_posthog_shape(
    conn: Conn, posthog: PostHog
) -> None:
    tenants = fleet(conn)
    acme, calm = str(tenants["acme"]), str(tenants["calm"])
    report = export(conn, clock=lambda: NOW)
    assert posthog.requests == 0  # queueing sends nothing
    queued = conn.execute("SELECT count(*) AS n FROM outbox WHERE sink = 'posthog'").fetchone()
    assert queued == {"n": report.queued}
    result = drain(conn, sinks(), limit=1000)
    assert (result.delivered, result.failed) == (report.queued, 0)
    assert set(posthog.paths) == {"/batch/"} and set(posthog.encodings) == {"gzip"}
    events = posthog.received()
    assert len(events) == report.queued and posthog.repeats == []

    # The tier signal, with its evidence: hour 0 cost 1.60/730 (booked to 12 decimals:
    # 0.002191780822) × 730 = 1.600000000060 a month → 1.600000; 160.0 % of the 1.00 ceiling.
    (decision,) = by_event(events, "tier_decision")
    props = decision["properties"]
    assert decision["distinct_id"] == f"tenant:{acme}"
    assert decision["uuid"] == ph_uuid(f"tier_decision:{acme}:2026-11-20T00")
    assert decision["timestamp"] == "2026-11-20T01:00:00+00:00"  # the end of the judged hour
    assert {k: props[k] for k in ("signal", "from_level", "tier", "ceiling", "hour")} == {
        "signal": "soft_throttle",
        "from_level": "normal",
        "tier": "STARTER",
        "ceiling": "cost",
        "hour": "2026-11-20T00:00:00+00:00",
    }
    assert props["figure"] == 1.6 and props["ceiling_value"] == 1.0
    assert props["pct_of_ceiling"] == 160.0
    assert props["$groups"] == {"tenant": acme}
    assert props["$process_person_profile"] is False

    # Each tenant as a group, with its November figures (accrued to 21 Nov 00:00: 20 days of
    # 30): revenue 5 × 20/30 = 3.333333; calm has no cost lines, so its cost is 0.
    groups = {e["properties"]["$group_key"]: e for e in by_event(events, "$groupidentify")}
    assert set(groups) == {acme, calm}
    calm_group = groups[calm]
    assert calm_group["uuid"] == ph_uuid(f"tenant_group:2026-11-21:{calm}")
    assert calm_group["properties"]["$group_type"] == "tenant"
    group_set = calm_group["properties"]["$group_set"]
    assert group_set["name"] == "calm" and group_set["plan"] == "Starter"
    assert group_set["tier"] == "STARTER" and group_set["period"] == "2026-11"
    assert group_set["period_status"] == "provisional"
    assert group_set["revenue"] == 3.333333
    assert group_set["monthly_cost"] == 0.0
    assert group_set["margin_pct"] == 100.0  # (3.33 − 0) ÷ 3.33
    assert group_set["health_status"] == "Excellent"

    # The daily event for 20 November (the only complete day in the first run's 7 days):
    # acme's usage that day is the booked hour, 0.002191780822 → 0.002192.
    daily = {e["properties"]["$groups"]["tenant"]: e for e in by_event(events, "tenant_daily_cost")}
    assert set(daily) == {acme, calm}
    acme_day = daily[acme]
    assert acme_day["uuid"] == ph_uuid(f"daily_cost:2026-11-20:{acme}")
    assert acme_day["timestamp"] == "2026-11-20T00:00:00+00:00"
    assert acme_day["properties"]["day_usage_cost"] == 0.002192
    assert acme_day["properties"]["day_compute_cost"] == 0.002192
    assert acme_day["properties"]["period_revenue"] == 3.333333
    assert daily[calm]["properties"]["day_usage_cost"] == 0.0
    # Internal aggregates only: no payment, invoice or signup data in any event.
    text = json.dumps(events)
    for word in ("payment", "invoice", 'email_domain":', 'signup_ip":'):
        assert word not in text


def test_retry_after_a_500_and_nothing_twice_after_a_restart(conn: Conn, posthog: PostHog) -> None:
    fleet(conn)
    first = export(conn, clock=lambda: NOW)
    posthog.fail_first = 1
    start = datetime.now(UTC)
    one = drain(conn, sinks(), limit=1000, backoff_base=60, clock=lambda: start)
    assert (one.failed, one.delivered) == (1, first.queued - 1)
    row = conn.execute(
        "SELECT attempts, last_error FROM outbox WHERE sink = 'posthog' AND last_error IS NOT NULL"
    ).fetchone()
    assert row is not None and row["attempts"] == 1 and "500" in row["last_error"]
    later = start + timedelta(seconds=60)  # the backoff: 60 s × 2^0
    two = drain(conn, sinks(), limit=1000, clock=lambda: later)
    assert (two.delivered, two.failed) == (1, 0)
    assert posthog.requests == first.queued + 1  # each event once, plus the 500
    # A second export (a restart of the job) finds everything queued: nothing new.
    again = export(conn, clock=lambda: NOW + timedelta(minutes=5))
    assert again.queued == 0
    assert sum(again.found.values()) == first.queued
    assert drain(conn, sinks(), limit=1000, clock=lambda: later).delivered == 0
    assert len(posthog.received()) == first.queued and posthog.repeats == []
    # The watermarks say where each kind stopped: the run's time.
    marks = conn.execute("SELECT kind, through FROM posthog_export_state").fetchall()
    assert {m["kind"] for m in marks} == {
        "tier_decision",
        "alert_opened",
        "alert_closed",
        "optimization",
        "abuse_group",
        "tenant_group",
        "daily_cost",
    }
    assert {m["through"] for m in marks} == {NOW + timedelta(minutes=5)}


def test_kill_9_mid_drain_then_a_new_drain_delivers_every_event_once(
    env: str, posthog: PostHog
) -> None:
    with psycopg.connect(env, autocommit=True, row_factory=dict_row) as conn:
        for n in range(12):
            payload = {
                "type": "capture",
                "event": "test_event",
                "distinct_id": "tenantcost",
                "uuid": ph_uuid(f"test:{n}"),
                "timestamp": "2026-11-20T00:00:00+00:00",
                "properties": {"n": str(n)},
                "numbers": ["n"],
            }
            enqueue(conn, "posthog", f"test:{n}", payload)
    posthog.delay = 0.3  # each accepted event's answer takes a while: a kill lands mid-send
    command = [sys.executable, "-m", "tenantcost", "outbox", "drain", "--sink", "posthog"]
    environment = {**os.environ, "TENANTCOST_DATABASE_URL": env}
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(posthog.received()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert 3 <= len(posthog.received()) < 12  # killed part-way
    posthog.delay = 0.0
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # Every event at the receiver; an event whose answer the kill cut off may have come
    # twice, with the same uuid, timestamp and properties (PostHog keeps one).
    assert sorted(int(e["properties"]["n"]) for e in posthog.received()) == list(range(12))
    assert len(posthog.repeats) <= 1
    for repeat in posthog.repeats:
        kept = next(e for e in posthog.received() if e["uuid"] == repeat["uuid"])
        assert {k: repeat[k] for k in ("uuid", "timestamp", "event")} == {
            k: kept[k] for k in ("uuid", "timestamp", "event")
        }
    with psycopg.connect(env, autocommit=True, row_factory=dict_row) as conn:
        left = conn.execute("SELECT count(*) AS n FROM outbox WHERE delivered_at IS NULL")
        assert left.fetchone() == {"n": 0}


def test_dry_run_prints_and_queues_nothing(conn: Conn, posthog: PostHog) -> None:
    tenants = fleet(conn)
    result = CliRunner().invoke(
        app, ["export", "posthog", "--dry-run", "--since", "2026-11-20", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    decision = next(r for r in rows if r["kind"] == "tier_decision")
    assert decision["tenant_id"] == str(tenants["acme"])
    assert decision["uuid"] == ph_uuid(f"tier_decision:{tenants['acme']}:2026-11-20T00")
    assert conn.execute("SELECT count(*) AS n FROM outbox").fetchone() == {"n": 0}
    assert conn.execute("SELECT count(*) AS n FROM posthog_export_state").fetchone() == {"n": 0}
    assert posthog.requests == 0


def test_export_command_sends_and_a_bad_key_never_shows(
    conn: Conn, posthog: PostHog, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet(conn)
    wrong = "phc_wrong_key_must_not_leak_42"
    monkeypatch.setenv("TENANTCOST_POSTHOG_API_KEY", wrong)
    get_settings.cache_clear()
    failed = CliRunner().invoke(app, ["export", "posthog", "--since", "2026-11-20"])
    assert failed.exit_code == 1
    assert wrong not in failed.output
    errors = conn.execute("SELECT last_error FROM outbox WHERE last_error IS NOT NULL").fetchall()
    assert errors and all(wrong not in e["last_error"] for e in errors)
    assert all("401" in e["last_error"] for e in errors)
    shown = CliRunner().invoke(app, ["settings", "--format", "json"])
    assert wrong not in shown.output
    setting = next(r for r in json.loads(shown.stdout) if r["setting"] == "posthog_api_key")
    assert setting["value"] == "********"
    # With the right key, `outbox retry` and the next export deliver what waited.
    monkeypatch.setenv("TENANTCOST_POSTHOG_API_KEY", KEY)
    get_settings.cache_clear()
    assert CliRunner().invoke(app, ["outbox", "retry", "--sink", "posthog"]).exit_code == 0
    ok = CliRunner().invoke(app, ["export", "posthog", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    waiting = conn.execute("SELECT count(*) AS n FROM outbox WHERE delivered_at IS NULL")
    assert waiting.fetchone() == {"n": 0}
    assert posthog.repeats == []


def test_export_without_host_or_key_is_refused(use_database: str) -> None:
    result = CliRunner().invoke(app, ["export", "posthog"])
    assert result.exit_code == 2
    assert "TENANTCOST_POSTHOG_HOST" in result.output


def test_the_serve_job_exports_once_per_interval(env: str, posthog: PostHog) -> None:
    from psycopg_pool import ConnectionPool

    from tenantcost.web.jobs import JobRunner

    with psycopg.connect(env, autocommit=True, row_factory=dict_row) as conn:
        fleet(conn)
    pool: ConnectionPool[Any] = ConnectionPool(
        env, min_size=1, max_size=1, kwargs={"autocommit": True, "row_factory": dict_row}
    )
    with pool:
        runner = JobRunner.default(pool, 60)
        assert "posthog_export" in runner.jobs
        runner.jobs = {"posthog_export": runner.jobs["posthog_export"]}
        runner.run_once()
        assert runner.status["posthog_export"].errors == 0
        sent = posthog.requests
        assert sent > 0
        runner.run_once()  # within TENANTCOST_POSTHOG_INTERVAL (3600 s): nothing
        assert posthog.requests == sent


def test_no_job_without_configuration(use_database: str) -> None:
    from tenantcost.web.jobs import posthog_jobs

    assert posthog_jobs() == {}


def test_collect_every_exports_once_per_interval(env: str, posthog: PostHog) -> None:
    """The real `collect --every` in its own process: its first pass exports (and delivers),
    the next passes, within TENANTCOST_POSTHOG_INTERVAL, do not."""
    with psycopg.connect(env, autocommit=True, row_factory=dict_row) as conn:
        fleet(conn)
    environment = {
        **os.environ,
        "TENANTCOST_DATABASE_URL": env,
        "TENANTCOST_POSTHOG_HOST": posthog.url,
        "TENANTCOST_POSTHOG_API_KEY": KEY,
    }
    command = [sys.executable, "-m", "tenantcost", "collect", "--every", "1s", "--no-host"]
    command += ["--no-evaluate", "--no-price", "--no-sampler"]
    process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    with stderr_lines(process) as lines:
        while not any("pass 3 " in line for line in seen):
            seen.append(lines.get(timeout=60))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    exported = [line for line in seen if "posthog:" in line]
    assert len(exported) == 1, seen
    assert "delivered" in exported[0] and posthog.received()
    assert KEY not in "".join(seen)
