"""Telemetry: tenant mapping, collectors and the application tagging library (issue 5).

The application-facing API is importable from here::

    from tenantcost.telemetry import PostgresSink, Recorder, tagged_connect, tenant
"""

from __future__ import annotations

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
