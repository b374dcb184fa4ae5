"""The ``posthog`` outbox sink: each queued message sent with the official ``posthog`` client.

The client runs in sync mode (no background thread, one ``POST /batch/`` per message, gzip)
with its own upload retries off: retries are the outbox's (persisted, with backoff). The client
never raises from ``capture``/``group_identify`` — it logs and returns None — so this module
listens to the client's logger for the error of the call and turns it into
:class:`DeliveryFailed`. The project key goes only to the client; it is never logged or put in
an error (the receiver's reply is redacted before it is stored).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from tenantcost.analytics.events import to_client
from tenantcost.config import Settings
from tenantcost.db.connect import redact
from tenantcost.outbox.sinks import DeliveryFailed, OutboxEvent, Sink

SINK = "posthog"
log = logging.getLogger("tenantcost.posthog")


class _ClientErrors(logging.Handler):
    """Keeps, per thread, the last error the client logged; passes its warnings on to
    tenantcost's log (without tracebacks)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            error = record.exc_info[1] if record.exc_info else None
            self.local.error = error if error is not None else record.getMessage()
        elif record.levelno >= logging.WARNING:
            log.warning("%s", record.getMessage())


_errors = _ClientErrors()


def _listen() -> None:
    client_log = logging.getLogger("posthog")
    if _errors not in client_log.handlers:
        client_log.addHandler(_errors)
        client_log.propagate = False  # no client tracebacks: the outbox reports the failure


@contextmanager
def _call() -> Iterator[list[BaseException | str | None]]:
    _errors.local.error = None
    seen: list[BaseException | str | None] = []
    try:
        yield seen
    finally:
        seen.append(_errors.local.error)
        _errors.local.error = None


def make_client(settings: Settings) -> Any:
    """The official client, pointed at TENANTCOST_POSTHOG_HOST, synchronous, no retries."""
    from posthog import Posthog

    _listen()
    assert settings.posthog_api_key is not None
    return Posthog(
        settings.posthog_api_key.get_secret_value(),
        host=settings.posthog_host,
        sync_mode=True,
        max_retries=0,
        timeout=settings.posthog_timeout,
        gzip=True,
        capture_mode="v0",
        disable_geoip=True,
        enable_local_evaluation=False,
    )


def _failure(error: BaseException | str | None, secret: str) -> DeliveryFailed:
    import requests

    if error is None:
        return DeliveryFailed("the PostHog client dropped the message")
    text = redact(str(error) if isinstance(error, str) else f"{type(error).__name__}: {error}")
    text = text.replace(secret, "********")
    down = isinstance(error, requests.ConnectionError | requests.Timeout)
    return DeliveryFailed(text[:300], sink_down=down)


def send(client: Any, payload: Mapping[str, Any], secret: str) -> None:
    """One message through the client; DeliveryFailed unless PostHog accepted it."""
    properties = to_client(payload)
    with _call() as seen:
        if payload["type"] == "group_identify":
            sent = client.group_identify(
                payload["group_type"],
                payload["group_key"],
                properties=properties,
                timestamp=payload["timestamp"],
                uuid=payload["uuid"],
                distinct_id=payload["distinct_id"],
            )
        else:
            sent = client.capture(
                payload["event"],
                distinct_id=payload["distinct_id"],
                properties={**properties, "$process_person_profile": False},
                timestamp=payload["timestamp"],
                uuid=payload["uuid"],
                groups=payload.get("groups"),
            )
    if sent is None or seen[-1] is not None:
        raise _failure(seen[-1], secret)


def posthog_sink(settings: Settings) -> Sink | None:
    """The ``posthog`` outbox sink, or None unless both the host and the key are set."""
    if not configured(settings):
        return None
    assert settings.posthog_api_key is not None
    secret = settings.posthog_api_key.get_secret_value()
    client = make_client(settings)

    def deliver(event: OutboxEvent) -> None:
        send(client, event.payload, secret)

    return Sink(SINK, deliver, max_attempts=settings.posthog_retries)


def configured(settings: Settings) -> bool:
    return bool(settings.posthog_host) and settings.posthog_api_key is not None
