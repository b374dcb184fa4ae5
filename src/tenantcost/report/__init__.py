"""Executive reports over the BI views and their materialized rollups.

``refresh_rollups(conn)`` is what other features call after they change costs (syncs,
overrides, settings) so the dashboard's rollups catch up.
"""

from __future__ import annotations

from tenantcost.report.rollup import RefreshResult, refresh_rollups

__all__ = ["RefreshResult", "refresh_rollups"]
