"""Keeping the figures fresh, and saying how fresh they are.

``refresh_rollups(conn)`` recomputes the current period's ledger and figures from what is
priced; collect, attribute, cost syncs and setting changes call it. Anything else that changes
a cost input (a payment, a subscription, a VPS edited by hand) is counted by a trigger, and
every surface shows "N changes since the refresh at …" with the command that refreshes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.telemetry.timeutil import month_period

REFRESH_HINT = "tenantcost report refresh"


def sql(name: str) -> str:
    return queries("tenantcost.report")[name]


@dataclass(frozen=True)
class RollupState:
    """The period the surfaces show and how fresh its figures are."""

    period: str | None
    status: str | None  # provisional | closed
    covered_until: datetime | None
    refreshed_at: datetime | None
    changes_pending: int
    tenants: int
    allocation_rule: str | None
    basis: str | None

    @property
    def stale(self) -> bool:
        return self.changes_pending > 0

    def note(self) -> str:
        """One line for people: which period, provisional or final, and staleness."""
        if self.period is None:
            return "no period attributed yet: run `tenantcost attribute` (or `tenantcost collect`)"
        text = f"{self.period} · {self.status}"
        if self.status == "provisional" and self.covered_until is not None:
            text += f" (accrued to {self.covered_until:%Y-%m-%d %H:%M} UTC)"
        if self.stale and self.refreshed_at is not None:
            text += (
                f" · stale: {self.changes_pending} change(s) since the refresh at "
                f"{self.refreshed_at:%Y-%m-%d %H:%M} UTC — run `{REFRESH_HINT}`"
            )
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "status": self.status,
            "provisional": self.status == "provisional",
            "covered_until": self.covered_until,
            "refreshed_at": self.refreshed_at,
            "changes_pending": self.changes_pending,
            "stale": self.stale,
            "tenants": self.tenants,
            "allocation_rule": self.allocation_rule,
            "basis": self.basis,
            "note": self.note(),
            "refresh_command": REFRESH_HINT,
        }


def latest_period(conn: Connection) -> str | None:
    row = conn.execute(sql("latest_period")).fetchone()
    return row["period"] if row else None


def rollup_state(conn: Connection, period: str | None = None) -> RollupState:
    period = period or latest_period(conn)
    fresh: Any = conn.execute(sql("freshness")).fetchone()
    info = conn.execute(sql("period"), {"period": period}).fetchone() if period else None
    count: Any = conn.execute(sql("figures_tenant_count"), {"period": period}).fetchone()
    return RollupState(
        period=period if info else None,
        status=info["status"] if info else None,
        covered_until=info["covered_until"] if info else None,
        refreshed_at=fresh["refreshed_at"],
        changes_pending=int(fresh["changes_pending"] or 0),
        tenants=int(count["tenants"]),
        allocation_rule=info["allocation_rule"] if info else None,
        basis=info["basis"] if info else None,
    )


@dataclass(frozen=True)
class RefreshResult:
    seconds: float
    state: RollupState


def refresh_rollups(conn: Connection, *, as_of: datetime | None = None) -> RefreshResult:
    """Recompute the current period's ledger and figures (one transaction; readers keep
    reading the previous figures until it commits)."""
    from tenantcost.attribution.ledger import refresh_current

    started = time.perf_counter()
    result = refresh_current(conn, as_of=as_of or datetime.now(UTC))
    seconds = time.perf_counter() - started
    return RefreshResult(seconds=seconds, state=rollup_state(conn, result.period.key))


def resolve_month(
    conn: Connection,
    month: str | None,
    latest: Callable[[Connection], str | None] = latest_period,
) -> str:
    """The month asked for (validated ``YYYY-MM``), else ``latest`` — by default the latest
    attributed month — looked up only then; UserError when there is none."""
    if month:
        return month_period(month).key
    found = latest(conn)
    if found is None:
        raise UserError(
            "no month has been attributed yet",
            "run `tenantcost attribute` (or `tenantcost collect`) first",
        )
    return found
