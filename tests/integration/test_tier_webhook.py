"""Signed webhooks against a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tenantcost.outbox import DeliveryFailed, OutboxEvent
from tenantcost.tiers.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, post_once, verify

SECRET = "s3cret"


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.fail_first > 0:
            self.server.fail_first -= 1
            self.send_response(503)
        else:
            self.server.received.append((dict(self.headers), body))
            ok = verify(
                SECRET, self.headers[TIMESTAMP_HEADER], body, self.headers[SIGNATURE_HEADER]
            )
            self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def event(payload: dict[str, Any]) -> OutboxEvent:
    return OutboxEvent(1, "webhook", "test:1", payload, datetime.now(UTC), 0)


def test_signed_delivery_verifies_at_the_receiver(receiver: Receiver) -> None:
    post_once(receiver.url, SECRET, event({"tenant": "a", "signal": "soft_throttle"}))
    headers, body = receiver.received[0]
    assert json.loads(body) == {"signal": "soft_throttle", "tenant": "a"}
    assert headers["X-Tenantcost-Event-Id"] == "test:1"
    assert not verify("wrong", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify(SECRET, headers[TIMESTAMP_HEADER], body + b" ", headers[SIGNATURE_HEADER])


def test_a_wrong_secret_is_refused_by_the_receiver(receiver: Receiver) -> None:
    with pytest.raises(DeliveryFailed, match="HTTP 401") as failed:
        post_once(receiver.url, "not-the-secret", event({"x": 1}))
    assert not failed.value.sink_down


def test_one_attempt_only_a_503_is_a_failure_for_the_outbox(receiver: Receiver) -> None:
    receiver.fail_first = 1
    with pytest.raises(DeliveryFailed, match="HTTP 503"):
        post_once(receiver.url, SECRET, event({"x": 1}))
    post_once(receiver.url, SECRET, event({"x": 1}))  # the next attempt (a later drain)
    assert len(receiver.received) == 1


def test_receiver_down_marks_the_sink_down() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DeliveryFailed, match="ConnectError") as failed:
        post_once(f"http://127.0.0.1:{port}/hook", SECRET, event({"x": 1}), timeout=1)
    assert failed.value.sink_down


def test_stale_messages_are_rejected() -> None:
    from tenantcost.tiers.webhook import sign

    body = b"{}"
    signature = sign(SECRET, 1_000, body)
    assert verify(SECRET, "1000", body, signature, now=1_100)
    assert not verify(SECRET, "1000", body, signature, now=2_000)
