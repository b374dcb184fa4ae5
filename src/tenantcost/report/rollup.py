"""The materialized rollups behind the dashboard: refresh and freshness."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries


def sql(name: str) -> str:
    return queries("tenantcost.report")[name]


@dataclass(frozen=True)
class RollupState:
    refreshed_at: datetime
    allocation_rule: str  # the rule the rollups were computed with
    current_rule: str  # the rule configured now
    tenants: int

    @property
    def rule_changed(self) -> bool:
        return self.allocation_rule != self.current_rule


@dataclass(frozen=True)
class RefreshResult:
    seconds: float
    state: RollupState


def rollup_state(conn: Connection) -> RollupState:
    row = conn.execute(sql("rollup_state")).fetchone()
    assert row is not None, "shared_cost_rollup always holds the shared_unallocated line"
    return RollupState(
        refreshed_at=row["refreshed_at"],
        allocation_rule=row["allocation_rule"],
        current_rule=row["current_rule"],
        tenants=int(row["tenants"]),
    )


def refresh_rollups(conn: Connection) -> RefreshResult:
    """Refresh every rollup (concurrently: readers keep reading the old rows meanwhile).

    Call it after a change of costs has committed (cost syncs, overrides, settings). Runs
    ``tenantcost_refresh_rollups()``, which executes as the rollups' owner, so the caller
    needs only EXECUTE on it (granted to db_administrators).
    """
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(sql("refresh"))
    seconds = time.perf_counter() - started
    return RefreshResult(seconds=seconds, state=rollup_state(conn))
