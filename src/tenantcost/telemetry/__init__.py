"""Telemetry: tenant mapping, collectors and the application tagging library (issue 5).

The application-facing API is importable from here::

    from tenantcost.telemetry import PostgresSink, Recorder, tagged_connect, tenant
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenantcost.telemetry.tagging import (
        PostgresSink,
        Recorder,
        RecorderStats,
        TaggedCursor,
        current_tenant,
        instrument_connection,
        instrument_engine,
        set_default_recorder,
        tagged_connect,
        tenant,
    )

__all__ = [
    "PostgresSink",
    "Recorder",
    "RecorderStats",
    "TaggedCursor",
    "current_tenant",
    "instrument_connection",
    "instrument_engine",
    "set_default_recorder",
    "tagged_connect",
    "tenant",
]


def __getattr__(name: str) -> Any:
    """The tagging library (and psycopg, whose cursor it extends) loads on first use, so the
    telemetry commands' `--help` and the modules beside it do not pay for it."""
    if name in __all__:
        from tenantcost.telemetry import tagging

        return getattr(tagging, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
