"""Signed webhook delivery for decisions and alerts.

Each POST carries JSON and two headers: ``X-Tenantcost-Timestamp`` (Unix seconds) and
``X-Tenantcost-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` with
the shared secret (the scheme Stripe and GitHub use, so receivers can reject replays by age).
Delivery retries with exponential backoff on connection errors, timeouts, 429 and 5xx; a
webhook that stays down is reported, never raised into the evaluation that called it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from tenantcost.db.connect import redact

SIGNATURE_HEADER = "X-Tenantcost-Signature"
TIMESTAMP_HEADER = "X-Tenantcost-Timestamp"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    max_age_s: int = 300,
    now: float | None = None,
) -> bool:
    """What a receiver does: recompute, compare in constant time, reject stale messages."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - sent) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    status: int | None
    error: str


class _Retryable(Exception):
    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def deliver(
    url: str,
    secret: str,
    payload: Mapping[str, Any],
    *,
    attempts: int = 4,
    timeout: float = 5.0,
    backoff_base: float = 0.5,
    clock: Callable[[], float] = time.time,
) -> Delivery:
    """POST the payload signed; never raises for a failing receiver."""
    body = encode(payload)
    tries = 0

    def post() -> httpx.Response:
        nonlocal tries
        tries += 1
        stamp = int(clock())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(secret, stamp, body),
        }
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise _Retryable(None, f"{type(exc).__name__}: {redact(str(exc))}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(response.status_code, f"HTTP {response.status_code}")
        return response

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff_base, max=8),
        retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
        reraise=False,
    )
    try:
        response = retrying(post)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        status = last.status if isinstance(last, _Retryable) else None
        return Delivery(False, tries, status, str(last))
    if response.is_success:
        return Delivery(True, tries, response.status_code, "")
    return Delivery(False, tries, response.status_code, f"HTTP {response.status_code}")
