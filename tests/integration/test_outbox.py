"""The outbox end to end: tier evaluation queues, a drain delivers to a receiver on 127.0.0.1.

The receiver checks the signature with its own HMAC-SHA256 (hashlib/hmac here), never with
tenantcost's verify function, so a wrong signing scheme cannot pass by agreeing with itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
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

from tenantcost.cli import app
from tenantcost.config import get_settings, load_settings
from tenantcost.outbox import backlog, configured_sinks, drain, enqueue
from tenantcost.tiers.evaluate import evaluate_hour
from tests.integration.loopback import serving
from tests.integration.test_tiers import H0, add_tenant, set_hour_cost

pytestmark = pytest.mark.db
Conn = psycopg.Connection[dict[str, Any]]
SECRET = "outbox-test-secret"


class Receiver(ThreadingHTTPServer):
    """Records every POST; answers 500 to the first ``fail_first``; ``delay`` slows it."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        self.requests = 0
        self.fail_first = 0
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _headers, body in self.accepted]


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """What the receiver computes itself: HMAC-SHA256 over "<timestamp>.<body>"."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.delay:
            time.sleep(self.server.delay)
        with self.server.lock:
            self.server.requests += 1
            failing = self.server.fail_first > 0
            if failing:
                self.server.fail_first -= 1
        if failing:
            self.send_response(500)
        else:
            stamp = self.headers.get("X-Tenantcost-Timestamp", "")
            given = self.headers.get("X-Tenantcost-Signature", "")
            good = hmac.compare_digest(expected_signature(SECRET, stamp, body), given)
            if good:
                with self.server.lock:
                    self.server.accepted.append((dict(self.headers), body))
            self.send_response(204 if good else 401)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver()) as server:
        yield server


@pytest.fixture
def webhook_env(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver, use_database: str
) -> Iterator[str]:
    monkeypatch.setenv("TENANTCOST_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("TENANTCOST_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    yield use_database
    get_settings.cache_clear()


@pytest.fixture
def conn(webhook_env: str) -> Iterator[Conn]:
    with psycopg.connect(webhook_env, autocommit=True, row_factory=dict_row) as c:
        yield c


def hot_tenant(conn: Conn) -> uuid.UUID:
    """One STARTER tenant whose hour 0 runs at 1.60/month against a 1.00 ceiling (160 %),
    booked the way the tier tests book it (one helper to follow the cost model)."""
    conn.execute("INSERT INTO plans (name, price_monthly) VALUES ('Starter', 5)")
    conn.execute("INSERT INTO plan_tiers SELECT id, 'STARTER' FROM plans")
    tenant = add_tenant(conn, "Starter", "acme")
    set_hour_cost(conn, tenant, 0, "1.60")
    return tenant


def outbox_rows(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT sink, dedupe_key, attempts, delivered_at, last_error FROM outbox ORDER BY id"
    ).fetchall()


def sinks() -> dict[str, Any]:
    return configured_sinks(load_settings())


def test_evaluation_queues_in_its_transaction_and_sends_nothing(
    conn: Conn, receiver: Receiver
) -> None:
    hot_tenant(conn)
    report = evaluate_hour(conn, H0)  # what the main job calls: no sender, no network
    assert [d["to_level"] for d in report.decisions] == ["soft_throttle"]  # 160 % > 150 %
    assert report.events_queued == 1
    assert receiver.requests == 0
    rows = outbox_rows(conn)
    decision_id = report.decisions[0]["id"]
    assert [(r["sink"], r["dedupe_key"], r["attempts"]) for r in rows] == [
        ("webhook", f"tier_decision:{decision_id}", 0)
    ]
    delivery = conn.execute("SELECT delivery FROM tier_decisions").fetchone()
    assert delivery == {"delivery": "queued"}
    # Re-evaluating the hour records nothing new and queues nothing twice.
    assert evaluate_hour(conn, H0).events_queued == 0
    assert len(outbox_rows(conn)) == 1


def test_a_failed_evaluation_queues_nothing(conn: Conn) -> None:
    hot_tenant(conn)
    with pytest.raises(RuntimeError), conn.transaction():
        evaluate_hour(conn, H0)
        raise RuntimeError("the caller's transaction fails after the evaluation")
    assert outbox_rows(conn) == []
    assert conn.execute("SELECT count(*) AS n FROM tier_decisions").fetchone() == {"n": 0}


def test_drain_signs_each_event_as_the_receiver_computes_it(conn: Conn, receiver: Receiver) -> None:
    hot_tenant(conn)
    decision_id = evaluate_hour(conn, H0).decisions[0]["id"]
    report = drain(conn, sinks())
    assert (report.delivered, report.failed) == (1, 0)
    headers, body = receiver.accepted[0]
    assert headers["X-Tenantcost-Event-Id"] == f"tier_decision:{decision_id}"
    payload = json.loads(body)
    assert payload["event_id"] == f"tier_decision:{decision_id}"
    assert payload["type"] == "tier_decision" and payload["to_level"] == "soft_throttle"
    # The receiver's own HMAC of timestamp and body (not the project's verify function).
    expected = expected_signature(SECRET, headers["X-Tenantcost-Timestamp"], body)
    assert headers["X-Tenantcost-Signature"] == expected
    assert conn.execute("SELECT delivery FROM tier_decisions").fetchone() == {
        "delivery": "delivered"
    }
    assert outbox_rows(conn)[0]["delivered_at"] is not None


def test_retry_after_a_500_with_backoff_and_no_double_send(conn: Conn, receiver: Receiver) -> None:
    enqueue(conn, "webhook", "test:1", {"type": "test", "n": "1"})
    receiver.fail_first = 1
    start = datetime.now(UTC)
    first = drain(conn, sinks(), backoff_base=60, backoff_cap=600, clock=lambda: start)
    assert (first.delivered, first.failed) == (0, 1)
    row = conn.execute("SELECT attempts, next_attempt_at, last_error FROM outbox").fetchone()
    assert row is not None and row["attempts"] == 1 and row["last_error"] == "HTTP 500"
    assert row["next_attempt_at"] == start + timedelta(seconds=60)  # base x 2^0
    # Not due yet 59 s later; due at 60 s, delivered once; a further drain sends nothing.
    early = drain(conn, sinks(), clock=lambda: start + timedelta(seconds=59))
    assert (early.delivered, early.failed) == (0, 0)
    due = drain(conn, sinks(), clock=lambda: start + timedelta(seconds=60))
    assert (due.delivered, due.failed) == (1, 0)
    assert drain(conn, sinks(), clock=lambda: start + timedelta(hours=1)).delivered == 0
    assert receiver.requests == 2  # the 500 and the delivery
    assert receiver.payloads() == [{"type": "test", "n": "1"}]


def test_two_drains_at_once_send_each_event_once(webhook_env: str, receiver: Receiver) -> None:
    with psycopg.connect(webhook_env, autocommit=True, row_factory=dict_row) as conn:
        for n in range(4):
            enqueue(conn, "webhook", f"test:{n}", {"n": n})
    receiver.delay = 0.1  # each POST holds its event's row lock a while

    def run() -> None:
        with psycopg.connect(webhook_env, autocommit=True, row_factory=dict_row) as own:
            drain(own, sinks())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(p["n"] for p in receiver.payloads()) == [0, 1, 2, 3]
    assert receiver.requests == 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dead_receiver_costs_one_attempt_per_drain_then_gives_up(
    conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENANTCOST_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/hook")
    monkeypatch.setenv("TENANTCOST_WEBHOOK_RETRIES", "2")
    tenant = hot_tenant(conn)
    decision_id = evaluate_hour(conn, H0).decisions[0]["id"]
    enqueue(conn, "webhook", "test:extra", {"n": 1})
    start = datetime.now(UTC)
    first = drain(conn, sinks(), backoff_base=1, clock=lambda: start)
    # Connection refused: one failed attempt, the sink is skipped for the rest of the run.
    assert (first.failed, first.sinks_down) == (1, ["webhook"])
    assert [r["attempts"] for r in outbox_rows(conn)] == [1, 0]
    # Next run: the extra event, due since it was queued, goes first (oldest due first).
    second = drain(conn, sinks(), backoff_base=1, clock=lambda: start + timedelta(seconds=5))
    assert (second.failed, second.given_up) == (1, 0)
    assert [r["attempts"] for r in outbox_rows(conn)] == [1, 1]
    later = start + timedelta(seconds=10)
    third = drain(conn, sinks(), backoff_base=1, clock=lambda: later)
    assert third.given_up == 1  # the decision's 2nd attempt was its last
    delivery = conn.execute(
        "SELECT delivery FROM tier_decisions WHERE tenant_id = %s", (tenant,)
    ).fetchone()
    assert delivery is not None and delivery["delivery"].startswith("failed: ConnectError")
    listed = CliRunner().invoke(app, ["outbox", "list", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    statuses = {r["dedupe_key"]: r["status"] for r in json.loads(listed.stdout)}
    assert statuses[f"tier_decision:{decision_id}"] == "given_up"
    assert backlog(conn, later)[0]["given_up"] == 1
    again = CliRunner().invoke(app, ["outbox", "retry", "--id", "1"])
    assert again.exit_code == 0, again.output
    row = conn.execute("SELECT attempts, next_attempt_at FROM outbox WHERE id = 1").fetchone()
    assert row is not None and row["attempts"] == 0 and row["next_attempt_at"] <= later


def test_a_new_process_drains_what_the_old_one_left(webhook_env: str, receiver: Receiver) -> None:
    with psycopg.connect(webhook_env, autocommit=True, row_factory=dict_row) as conn:
        hot_tenant(conn)
        decision_id = evaluate_hour(conn, H0).decisions[0]["id"]
    # The recording process is gone; a separate `tenantcost outbox drain` delivers it.
    env = {
        **os.environ,
        "TENANTCOST_DATABASE_URL": webhook_env,
        "TENANTCOST_WEBHOOK_URL": receiver.url,
        "TENANTCOST_WEBHOOK_SECRET": SECRET,
    }
    command = [sys.executable, "-m", "tenantcost", "outbox", "drain", "--format", "json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["delivered"] == 1
    assert [p["event_id"] for p in receiver.payloads()] == [f"tier_decision:{decision_id}"]
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert json.loads(again.stdout)[0]["delivered"] == 0
    assert receiver.requests == 1


def test_serve_job_drains_and_metrics_report_the_backlog(
    webhook_env: str, receiver: Receiver
) -> None:
    from psycopg_pool import ConnectionPool

    from tenantcost.web.jobs import JobRunner
    from tenantcost.web.metrics import outbox_families

    with psycopg.connect(webhook_env, autocommit=True, row_factory=dict_row) as conn:
        enqueue(conn, "webhook", "test:a", {"n": 1})
        enqueue(conn, "webhook", "test:b", {"n": 2})
        now = datetime.now(UTC)
        text = "\n".join(outbox_families(backlog(conn, now)))
        assert 'tenantcost_outbox_pending{sink="webhook"} 2' in text
        assert 'tenantcost_outbox_failed_total{sink="webhook"} 0' in text
    pool: ConnectionPool[Any] = ConnectionPool(
        webhook_env, min_size=1, max_size=1, kwargs={"autocommit": True, "row_factory": dict_row}
    )
    with pool:
        runner = JobRunner.default(pool, 60)
        runner.jobs = {"drain_outbox": runner.jobs["drain_outbox"]}
        runner.run_once()
        assert runner.status["drain_outbox"].errors == 0
    assert sorted(p["n"] for p in receiver.payloads()) == [1, 2]
    with psycopg.connect(webhook_env, autocommit=True, row_factory=dict_row) as conn:
        rows = backlog(conn, datetime.now(UTC))
    assert [(r["sink"], r["pending"], r["failed_attempts"]) for r in rows] == [("webhook", 0, 0)]


def test_one_attempt_per_event_per_drain_however_short_the_backoff(
    conn: Conn, receiver: Receiver
) -> None:
    enqueue(conn, "webhook", "test:1", {"n": 1})
    receiver.fail_first = 5
    report = drain(conn, sinks(), backoff_base=0.000001, backoff_cap=0.000001)
    assert (report.delivered, report.failed) == (0, 1)
    assert receiver.requests == 1
