"""The sink registry: a sink name -> how to build its deliver function from the settings.

A sink is where outbox events go (``webhook``: the signed tier webhook; issue 17 adds
``posthog`` and report deliveries). Its ``deliver`` gets one event and either returns
(delivered) or raises :class:`DeliveryFailed` (tried again later, with backoff). A sink whose
settings are missing is not built, and its events wait in the outbox.

Register a sink with ``register_sink("name", factory)``; the factory takes the settings and
returns a :class:`Sink` or None (not configured). Built-in sinks are listed in ``BUILTIN`` as
``module:function`` so importing the registry imports none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tenantcost.config import Settings
from tenantcost.db.connect import Connection


@dataclass(frozen=True)
class OutboxEvent:
    """One claimed outbox row: ``attempts`` counts the attempts before this one."""

    id: int
    sink: str
    dedupe_key: str
    payload: Mapping[str, Any]
    created_at: datetime
    attempts: int


class DeliveryFailed(Exception):
    """This attempt failed. ``sink_down``: the receiver is unreachable, so the drain leaves
    the sink's other events for the next run instead of waiting on each of them."""

    def __init__(self, message: str, *, sink_down: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.sink_down = sink_down


#: After an attempt: (connection in the attempt's transaction, event, error or None if
#: delivered, True when this was the last attempt). For a sink to record the outcome
#: beside its source rows (e.g. tier_decisions.delivery).
ResultHook = Callable[[Connection, OutboxEvent, str | None, bool], None]


@dataclass(frozen=True)
class Sink:
    name: str
    deliver: Callable[[OutboxEvent], None]
    max_attempts: int = 20
    on_result: ResultHook | None = field(default=None)


SinkFactory = Callable[[Settings], Sink | None]

BUILTIN: dict[str, str] = {
    "webhook": "tenantcost.tiers.webhook:webhook_sink",
    "report_email": "tenantcost.execreport.sinks:email_sink",
    "report_webhook": "tenantcost.execreport.sinks:webhook_sink",
    "report_dir": "tenantcost.execreport.sinks:directory_sink",
    "posthog": "tenantcost.analytics.sink:posthog_sink",
}
_registered: dict[str, SinkFactory] = {}


def register_sink(name: str, factory: SinkFactory) -> None:
    """Add (or replace) a sink; ``factory(settings)`` returns the Sink or None."""
    _registered[name] = factory


def _factory(name: str) -> SinkFactory:
    if name in _registered:
        return _registered[name]
    module, function = BUILTIN[name].split(":")
    factory: SinkFactory = getattr(importlib.import_module(module), function)
    return factory


def sink_names() -> list[str]:
    return sorted({*BUILTIN, *_registered})


def configured_sinks(settings: Settings, only: str | None = None) -> dict[str, Sink]:
    """Every sink whose settings are present (``only``: just that one, if configured)."""
    names = [only] if only is not None else sink_names()
    built = {name: _factory(name)(settings) for name in names}
    return {name: sink for name, sink in built.items() if sink is not None}
