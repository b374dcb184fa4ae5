"""Signed webhooks against a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tenantcost.tiers.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, deliver, verify

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


def test_signed_delivery_verifies_at_the_receiver(receiver: Receiver) -> None:
    result = deliver(receiver.url, SECRET, {"tenant": "a", "signal": "soft_throttle"})
    assert result.ok and result.status == 204 and result.attempts == 1
    headers, body = receiver.received[0]
    assert json.loads(body) == {"signal": "soft_throttle", "tenant": "a"}
    assert not verify("wrong", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify(SECRET, headers[TIMESTAMP_HEADER], body + b" ", headers[SIGNATURE_HEADER])


def test_a_wrong_secret_is_refused_by_the_receiver(receiver: Receiver) -> None:
    result = deliver(receiver.url, "not-the-secret", {"x": 1}, attempts=1)
    assert not result.ok and result.status == 401


def test_retries_past_a_503_then_succeeds(receiver: Receiver) -> None:
    receiver.fail_first = 2
    result = deliver(receiver.url, SECRET, {"x": 1}, attempts=4, backoff_base=0.01)
    assert result.ok and result.attempts == 3


def test_receiver_down_is_reported_not_raised() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = deliver(
        f"http://127.0.0.1:{port}/hook", SECRET, {"x": 1}, attempts=2, backoff_base=0.01, timeout=1
    )
    assert not result.ok and result.attempts == 2 and result.status is None
    assert "ConnectError" in result.error


def test_stale_messages_are_rejected() -> None:
    from tenantcost.tiers.webhook import sign

    body = b"{}"
    signature = sign(SECRET, 1_000, body)
    assert verify(SECRET, "1000", body, signature, now=1_100)
    assert not verify(SECRET, "1000", body, signature, now=2_000)
