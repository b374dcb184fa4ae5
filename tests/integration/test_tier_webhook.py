"""Signed webhook POSTs against a real receiver on 127.0.0.1 (it computes the HMAC itself)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from tenantcost.outbox import DeliveryFailed, OutboxEvent
from tenantcost.tiers.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, post_once, verify
from tests.integration.test_outbox import SECRET, Receiver, receiver

__all__ = ["receiver"]  # the fixture, shared with the outbox tests


def event(payload: dict[str, Any]) -> OutboxEvent:
    return OutboxEvent(1, "webhook", "test:1", payload, datetime.now(UTC), 0)


def test_signed_delivery_verifies_at_the_receiver(receiver: Receiver) -> None:
    post_once(receiver.url, SECRET, event({"tenant": "a", "signal": "soft_throttle"}))
    headers, body = receiver.accepted[0]
    assert json.loads(body) == {"signal": "soft_throttle", "tenant": "a"}
    assert headers["X-Tenantcost-Event-Id"] == "test:1"
    assert not verify("wrong", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify(SECRET, headers[TIMESTAMP_HEADER], body + b" ", headers[SIGNATURE_HEADER])


def test_a_wrong_secret_is_refused_by_the_receiver(receiver: Receiver) -> None:
    with pytest.raises(DeliveryFailed, match="HTTP 401") as failed:
        post_once(receiver.url, "not-the-secret", event({"x": 1}))
    assert not failed.value.sink_down


def test_one_attempt_only_a_500_is_a_failure_for_the_outbox(receiver: Receiver) -> None:
    receiver.fail_first = 1
    with pytest.raises(DeliveryFailed, match="HTTP 500"):
        post_once(receiver.url, SECRET, event({"x": 1}))
    post_once(receiver.url, SECRET, event({"x": 1}))  # the next attempt (a later drain)
    assert len(receiver.accepted) == 1


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
