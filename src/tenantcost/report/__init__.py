"""Executive reports over the BI views and their materialized rollups.

``refresh_rollups(conn)`` is what other features call after they change costs (syncs,
overrides, settings) so the dashboard's rollups catch up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenantcost.report.rollup import RefreshResult, refresh_rollups

__all__ = ["RefreshResult", "refresh_rollups"]


def __getattr__(name: str) -> Any:
    """``refresh_rollups`` and ``RefreshResult`` load the rollup module (and psycopg) on first
    use, so importing ``tenantcost.report.cli`` for `report --help` does not."""
    if name in __all__:
        from tenantcost.report import rollup

        return getattr(rollup, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
