"""Hourly tier evaluation: ceilings → state machine → decisions and alerts → outbox.

One hour is one unit of work: the state, decisions and alert episodes for that hour commit
together, and an hour already evaluated for a tenant is skipped, so re-running an hour
changes nothing. New decisions and alerts are queued in the outbox in the same transaction
(when a webhook is configured); the outbox drain sends them, never this evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.tiers import anomaly
from tenantcost.tiers.rules import Level, Reading, TenantState, step, worst_reading
from tenantcost.tiers.store import sql
from tenantcost.tiers.webhook import queue_events

log = logging.getLogger("tenantcost.tiers")

HOURS_PER_MONTH = Decimal(730)  # 365 × 24 ÷ 12: turns an hour's cost into a monthly run-rate
BASELINE = timedelta(days=7)
# An average over a handful of tenants, or of fractions of a cent, says nothing.
OUTLIER_MIN_TENANTS = 3
OUTLIER_MIN_COST = Decimal("0.01")


@dataclass(frozen=True)
class TenantHour:
    """What one tenant used in one hour, and the tier that governs it."""

    tenant_id: UUID
    tier: str
    cost: Decimal  # USD attributed in this hour
    storage_gb: Decimal | None
    requests: int
    cost_ceiling: Decimal
    storage_gb_ceiling: Decimal | None
    requests_per_hour_ceiling: int | None

    def readings(self, hour: datetime) -> list[Reading]:
        found = [Reading(hour, "cost", self.cost * HOURS_PER_MONTH, self.cost_ceiling)]
        if self.storage_gb_ceiling and self.storage_gb is not None:
            found.append(Reading(hour, "storage", self.storage_gb, self.storage_gb_ceiling))
        if self.requests_per_hour_ceiling:
            limit = Decimal(self.requests_per_hour_ceiling)
            found.append(Reading(hour, "requests", Decimal(self.requests), limit))
        return found


@dataclass
class EvaluationReport:
    hour: datetime
    tenants: int = 0
    skipped: int = 0
    decisions: list[dict[str, Any]] = field(default_factory=list)
    alerts_opened: list[dict[str, Any]] = field(default_factory=list)
    alerts_closed: int = 0
    events_queued: int = 0

    def summary_row(self) -> dict[str, Any]:
        return {
            "hour": self.hour,
            "tenants_evaluated": self.tenants,
            "already_evaluated": self.skipped,
            "decisions": len(self.decisions),
            "alerts_opened": len(self.alerts_opened),
            "alerts_closed": self.alerts_closed,
            "events_queued": self.events_queued,
        }


def truncate_hour(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise UserError(f"hour {moment.isoformat()} has no time zone", "give it in UTC, e.g. …Z")
    return moment.replace(minute=0, second=0, microsecond=0)


def _state(row: Mapping[str, Any] | None) -> TenantState:
    if row is None:
        return TenantState()
    return TenantState(
        level=Level[row["level"]],
        hours_over=row["hours_over"],
        hours_calling_lower=row["hours_calling_lower"],
        since=row["since"],
    )


def _tenant_hours(conn: Connection, hour: datetime) -> list[TenantHour]:
    rows = conn.execute(sql("tenant_hours"), {"hour": hour}).fetchall()
    return [TenantHour(**row) for row in rows]


def evaluate_hour(
    conn: Connection,
    hour: datetime,
    *,
    step_down_hours: int | None = None,
) -> EvaluationReport:
    """Evaluate every tiered tenant for ``hour`` (UTC, truncated to the hour).

    ``step_down_hours`` defaults to the ``tier_step_down_hours`` cost setting.
    """
    hour = truncate_hour(hour)
    report = EvaluationReport(hour=hour)
    with conn.transaction():
        if step_down_hours is None:
            setting = conn.execute(sql("setting"), {"key": "tier_step_down_hours"}).fetchone()
            step_down_hours = int(Decimal(setting["value"])) if setting else 6
        states = {r["tenant_id"]: r for r in conn.execute(sql("tier_states")).fetchall()}
        new_states: list[dict[str, Any]] = []
        for tenant in _tenant_hours(conn, hour):
            saved = states.get(tenant.tenant_id)
            if saved is not None and saved["last_hour"] >= hour:
                report.skipped += 1
                continue
            report.tenants += 1
            new_states.append(
                _advance(conn, tenant, hour, _state(saved), saved, step_down_hours, report)
            )
        _save_states(conn, new_states)
        _evaluate_alerts(conn, hour, report)
        report.events_queued = queue_events(conn, report.decisions, report.alerts_opened)
    return report


def _advance(
    conn: Connection,
    tenant: TenantHour,
    hour: datetime,
    state: TenantState,
    saved: Mapping[str, Any] | None,
    step_down_hours: int,
    report: EvaluationReport,
) -> dict[str, Any]:
    """Step one tenant's state machine; record a decision at once (rare), return the new
    state for ``_save_states`` (every tenant's, in one statement)."""
    reading = worst_reading(tenant.readings(hour))
    episode = saved["episode_since"] if saved else None
    episode = (episode or hour) if reading.ratio > 1 else None
    state, decision = step(state, reading, step_down_hours=step_down_hours, episode_since=episode)
    new_state = {
        "tenant_id": tenant.tenant_id,
        "level": state.level.name,
        "hours_over": state.hours_over,
        "hours_calling_lower": state.hours_calling_lower,
        "episode_since": episode,
        "since": state.since,
        "last_hour": hour,
    }
    if decision is None:
        return new_state
    conn.execute(sql("end_active_decision"), {"tenant_id": tenant.tenant_id, "hour": hour})
    row = {
        "tenant_id": tenant.tenant_id,
        "tier": tenant.tier,
        "hour": hour,
        "from_level": decision.from_level.name,
        "to_level": decision.to_level.name,
        "ceiling": reading.ceiling,
        "figure": reading.figure,
        "ceiling_value": reading.limit,
        "ratio": reading.ratio,
        "episode_since": decision.episode_since,
    }
    inserted = conn.execute(sql("decision_insert"), row).fetchone()
    if inserted is not None:
        report.decisions.append({**row, "id": inserted["id"]})
    return new_state


def _save_states(conn: Connection, states: list[dict[str, Any]]) -> None:
    """Every evaluated tenant's new state in one set-based upsert (arrays, not a round trip
    per tenant)."""
    if not states:
        return
    conn.execute(
        sql("tier_states_upsert"),
        {key: [s[key] for s in states] for key in states[0]},
    )


@dataclass(frozen=True)
class AlertCondition:
    kind: str
    subject: str
    message: str
    details: dict[str, Any]


def alert_conditions(conn: Connection, hour: datetime) -> list[AlertCondition]:
    """Every alert condition true at ``hour``: figures gathered once, judged by pure code."""
    rows = conn.execute(sql("tenant_30d_costs"), {"hour": hour}).fetchall()
    setting = conn.execute(sql("setting"), {"key": "tenant_outlier_pct"}).fetchone()
    outlier_pct = Decimal(setting["value"]) if setting else Decimal(150)
    return [
        *tier_margin_alerts(rows),
        *outlier_alerts(rows, outlier_pct),
        *_jumps(conn, hour),
        *plan_price_alerts(rows),
    ]


def _group(rows: Iterable[Mapping[str, Any]], key: str) -> dict[Any, list[Mapping[str, Any]]]:
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups


def tier_margin_alerts(rows: Iterable[Mapping[str, Any]]) -> Iterable[AlertCondition]:
    """Tiers whose revenue against usage + add-on cost is below their margin floor."""
    for tier, members in _group(rows, "tier").items():
        revenue = sum((r["revenue"] for r in members), Decimal(0))
        cost = sum((r["usage_cost"] + r["addon_cost"] for r in members), Decimal(0))
        floor = members[0]["margin_floor_pct"]
        if anomaly.below_margin_floor(revenue, cost, floor):
            margin = anomaly.margin_pct(revenue, cost)
            yield AlertCondition(
                "tier_margin",
                tier,
                f"tier {tier} margin {margin:.1f}% is below its {floor}% floor",
                {"revenue": revenue, "cost": cost, "margin_pct": margin},
            )


def outlier_alerts(
    rows: Iterable[Mapping[str, Any]], limit_pct: Decimal
) -> Iterable[AlertCondition]:
    """Tenants whose usage cost is at least ``limit_pct`` percent of their tier's average
    (add-ons are left out: the tenant pays for them separately)."""
    for tier, members in _group(rows, "tier").items():
        if len(members) < OUTLIER_MIN_TENANTS:
            continue
        average = sum((r["usage_cost"] for r in members), Decimal(0)) / len(members)
        for row in members:
            cost = row["usage_cost"]
            share = anomaly.share_of_average(cost, average)
            if share is not None and share >= limit_pct and cost >= OUTLIER_MIN_COST:
                yield AlertCondition(
                    "tenant_above_tier_average",
                    str(row["tenant_id"]),
                    f"{row['company_name']} ({tier}) costs {cost:.2f}/month, "
                    f"{share:.0f}% of its tier average {average:.2f}",
                    {"cost": cost, "tier_avg": average, "pct_of_avg": share},
                )


def plan_price_alerts(rows: Iterable[Mapping[str, Any]]) -> Iterable[AlertCondition]:
    """Paid plans whose tenants cost more on average than the plan's price (FREE plans are
    loss leaders by design and are covered by the margin and outlier alerts instead)."""
    paid = [r for r in rows if r["plan_price"] > 0]
    for plan, members in _group(paid, "plan_name").items():
        average = sum((r["usage_cost"] + r["addon_cost"] for r in members), Decimal(0)) / len(
            members
        )
        price = members[0]["plan_price"]
        if average > price:
            yield AlertCondition(
                "plan_cost_above_price",
                plan,
                f"plan {plan}: average tenant cost {average:.2f} is above its price {price}",
                {
                    "plan_name": plan,
                    "price_monthly": price,
                    "tenants": len(members),
                    "avg_cost": average,
                },
            )


def _jumps(conn: Connection, hour: datetime) -> Iterable[AlertCondition]:
    """Cost-jump alerts: each tenant's hour against the median and MAD of its previous 7 days
    of hourly cost, both aggregated in SQL (exact: numeric, middle values averaged)."""
    rows = conn.execute(
        sql("hourly_cost_baseline"), {"hour": hour, "since": hour - BASELINE}
    ).fetchall()
    for row in rows:
        tenant_id, cost = row["tenant_id"], row["cost"]
        if not row["hours"]:
            continue
        verdict = anomaly.judge_jump(cost, row["hours"], row["median"], row["mad"])
        if verdict.is_jump:
            yield AlertCondition(
                "cost_jump",
                str(tenant_id),
                f"tenant {tenant_id}: hourly cost {cost} against a 7-day median of "
                f"{verdict.median} (robust z {verdict.z:.1f})"
                if verdict.z is not None
                else f"tenant {tenant_id}: hourly cost {cost} against a flat 7-day median "
                f"of {verdict.median}",
                {"cost": cost, "median": verdict.median, "mad": verdict.mad, "z": verdict.z},
            )


def _evaluate_alerts(conn: Connection, hour: datetime, report: EvaluationReport) -> None:
    """Open an alert when its condition starts, close it when it ends: once per episode."""
    conditions = alert_conditions(conn, hour)
    for c in conditions:
        row = conn.execute(
            sql("alert_open"),
            {
                "kind": c.kind,
                "subject": c.subject,
                "hour": hour,
                "message": c.message,
                "details": Jsonb({k: str(v) for k, v in c.details.items()}),
            },
        ).fetchone()
        if row is not None and row["opened"]:
            report.alerts_opened.append(
                {"id": row["id"], "kind": c.kind, "subject": c.subject, "message": c.message}
            )
            log.warning("alert %s %s: %s", c.kind, c.subject, c.message)
    keys = [f"{c.kind}\x1f{c.subject}" for c in conditions]
    report.alerts_closed = conn.execute(sql("alerts_close"), {"hour": hour, "keys": keys}).rowcount
