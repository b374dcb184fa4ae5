"""PostHog messages built from rows tenantcost already stores (pure: rows in, messages out).

Every message has a stable key (the outbox ``dedupe_key``) and an event uuid derived from it
(uuid5 in a fixed namespace), so whatever sends it again — a retried delivery, a re-scan, a
re-run after a restart — sends the same uuid, timestamp and properties, and PostHog keeps one.
Nothing here computes a cost figure: amounts are read from the cost model and only put at the
fixed machine scale (6 decimals for money, 1 for percentages).

What is never put in a message: signup email domains and IP addresses (abuse groups carry a
fingerprint instead), payments, invoices, anything a tenant would read as its bill.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tenantcost.report.reports import MONEY_MACHINE, PCT, quantize

#: Fixed for good: changing it would give every event a new uuid (PostHog would keep both).
NAMESPACE = uuid.UUID("0b6f5a52-7d0e-5d8e-9a57-3c1f2e4b6d81")
GROUP_TYPE = "tenant"
SYSTEM_ID = "tenantcost"  # distinct_id of messages that concern no single tenant

#: Export kinds (each has its own watermark) and the PostHog event each becomes.
EVENTS: dict[str, str] = {
    "tier_decision": "tier_decision",
    "alert_opened": "cost_alert_opened",
    "alert_closed": "cost_alert_closed",
    "optimization": "cost_optimization_opportunity",
    "abuse_group": "free_tier_abuse_group",
    "tenant_group": "$groupidentify",
    "daily_cost": "tenant_daily_cost",
}
KINDS = tuple(EVENTS)
#: Alert kinds whose subject is a tenant id (the others name a tier or a plan).
TENANT_ALERTS = frozenset({"tenant_above_tier_average", "cost_jump"})


def event_uuid(key: str) -> str:
    """The PostHog event uuid of a message key: the same key, the same uuid, always."""
    return str(uuid.uuid5(NAMESPACE, key))


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Message:
    """One PostHog call: ``payload`` is what the outbox stores and the sink sends."""

    kind: str
    key: str
    timestamp: datetime
    payload: dict[str, Any]

    @property
    def tenant(self) -> str | None:
        groups = self.payload.get("groups") or {}
        key = self.payload.get("group_key")
        return groups.get(GROUP_TYPE) or key

    def row(self) -> dict[str, Any]:
        """What a dry run prints for this message."""
        return {
            "kind": self.kind,
            "event": self.payload.get("event", "$groupidentify"),
            "timestamp": self.timestamp,
            "tenant_id": self.tenant,
            "uuid": self.payload["uuid"],
            "key": self.key,
        }


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return moment.astimezone(UTC).isoformat()


def money(value: Any) -> str | None:
    return None if value is None else str(quantize(Decimal(value), MONEY_MACHINE))


def pct(value: Any) -> str | None:
    return None if value is None else str(quantize(Decimal(value), PCT))


def _capture(
    kind: str,
    key: str,
    moment: datetime,
    properties: Mapping[str, Any],
    *,
    tenant: Any = None,
    numbers: Iterable[str] = (),
) -> Message:
    payload: dict[str, Any] = {
        "type": "capture",
        "event": EVENTS[kind],
        "distinct_id": f"{GROUP_TYPE}:{tenant}" if tenant is not None else SYSTEM_ID,
        "uuid": event_uuid(key),
        "timestamp": iso(moment),
        "properties": dict(properties),
        "numbers": sorted(numbers),
    }
    if tenant is not None:
        payload["groups"] = {GROUP_TYPE: str(tenant)}
    return Message(kind, key, moment, payload)


def tier_decision(row: Mapping[str, Any]) -> Message:
    """A tier signal (suggest_upgrade / soft_throttle / hard_throttle, or back to normal) with
    its evidence, at the end of the hour it judged."""
    hour: datetime = row["hour"]
    key = f"tier_decision:{row['tenant_id']}:{hour.astimezone(UTC):%Y-%m-%dT%H}"
    episode = row.get("episode_since")
    return _capture(
        "tier_decision",
        key,
        hour + timedelta(hours=1),
        {
            "signal": row["to_level"],
            "from_level": row["from_level"],
            "tier": row["tier"],
            "ceiling": row["ceiling"],
            "figure": money(row["figure"]),
            "ceiling_value": money(row["ceiling_value"]),
            "pct_of_ceiling": pct(Decimal(row["ratio"]) * 100),
            "hour": iso(hour),
            "episode_since": None if episode is None else iso(episode),
        },
        tenant=row["tenant_id"],
        numbers=("figure", "ceiling_value", "pct_of_ceiling"),
    )


def _subject_key(subject: str) -> str:
    return subject if len(subject) <= 80 and ":" not in subject else fingerprint(subject)


def alert(row: Mapping[str, Any], *, closed: bool) -> Message:
    """An alert episode opened (at ``opened_at``) or closed (at ``closed_at``)."""
    kind = "alert_closed" if closed else "alert_opened"
    opened: datetime = row["opened_at"]
    moment: datetime = row["closed_at"] if closed else opened
    subject = str(row["subject"])
    key = f"{kind}:{row['kind']}:{_subject_key(subject)}:{opened.astimezone(UTC):%Y-%m-%dT%H:%M}"
    properties: dict[str, Any] = {
        "alert_kind": row["kind"],
        "subject": subject,
        "message": row["message"],
        "opened_at": iso(opened),
        "closed_at": None if row["closed_at"] is None else iso(row["closed_at"]),
    }
    numbers = []
    for name, value in sorted((row.get("details") or {}).items()):
        prop = f"detail_{name}"
        try:
            properties[prop] = str(quantize(Decimal(str(value)), MONEY_MACHINE))
            numbers.append(prop)
        except (InvalidOperation, ValueError):
            properties[prop] = None if value in (None, "None") else str(value)
    tenant = subject if row["kind"] in TENANT_ALERTS else None
    return _capture(kind, key, moment, properties, tenant=tenant, numbers=numbers)


def optimization(
    row: Mapping[str, Any], *, period: str, status: str, day: date, now: datetime
) -> Message:
    """One row of the executive 'cost optimization opportunities' view, once per UTC day."""
    key = f"optimization:{day.isoformat()}:{row['tenant_id']}"
    return _capture(
        "optimization",
        key,
        now,
        {
            "period": period,
            "period_status": status,
            "plan": row["plan_name"],
            "health_status": row["business_health_status"],
            "cost_efficiency_score": row["cost_efficiency_score"],
            "optimization_category": row["optimization_category"],
            "optimization_opportunity": money(row["optimization_opportunity"]),
        },
        tenant=row["tenant_id"],
        numbers=("optimization_opportunity", "cost_efficiency_score"),
    )


def abuse_group(row: Mapping[str, Any], *, period: str | None, now: datetime) -> Message:
    """FREE tenants sharing a signup email domain or IP: the shared value itself is never
    sent, only its fingerprint; a new event when the group's members change."""
    members = sorted(str(t) for t in row["tenant_ids"])
    group = fingerprint(f"{row['signal']}:{row['shared_value']}")
    key = f"abuse_group:{row['signal']}:{group}:{fingerprint(','.join(members))}"
    return _capture(
        "abuse_group",
        key,
        now,
        {
            "signal": row["signal"],
            "group_fingerprint": group,
            "tenants": int(row["tenants"]),
            "combined_cost": money(row["combined_cost"]),
            "tenant_ids": members,
            "period": period,
        },
        numbers=("tenants", "combined_cost"),
    )


def tenant_group(
    row: Mapping[str, Any], *, status: str, covered_until: datetime, day: date, now: datetime
) -> Message:
    """The tenant as a PostHog group with its figures for the period shown (once a day)."""
    tenant = str(row["tenant_id"])
    key = f"tenant_group:{day.isoformat()}:{tenant}"
    properties = {
        "name": row["company_name"],
        "plan": row["plan_name"],
        "tier": row["tier"],
        "period": row["period"],
        "period_status": status,
        "covered_until": iso(covered_until),
        "monthly_cost": money(row["total_operational_cost"]),
        "revenue": money(row["revenue"]),
        "monthly_profit": money(row["monthly_profit"]),
        "margin_pct": pct(row["gross_margin_pct"]),
        "health_status": row["business_health_status"],
        "figures_day": day.isoformat(),
    }
    payload = {
        "type": "group_identify",
        "group_type": GROUP_TYPE,
        "group_key": tenant,
        "distinct_id": SYSTEM_ID,
        "uuid": event_uuid(key),
        "timestamp": iso(now),
        "properties": properties,
        "numbers": ["margin_pct", "monthly_cost", "monthly_profit", "revenue"],
    }
    return Message("tenant_group", key, now, payload)


DRIVERS = ("compute", "memory", "storage", "network")


def daily_cost(row: Mapping[str, Any]) -> Message:
    """A tenant's day: its usage cost that UTC day (list prices, ``tenant_cost_daily``) and its
    month's figures (accrued to ``covered_until`` while provisional)."""
    day: date = row["day"]
    key = f"daily_cost:{day.isoformat()}:{row['tenant_id']}"
    properties: dict[str, Any] = {
        "day": day.isoformat(),
        "day_usage_cost": money(row["usage_cost"]),
        **{f"day_{d}_cost": money(row[d]) for d in DRIVERS},
        "period": row["period"],
        "period_status": row["status"],
        "covered_until": iso(row["covered_until"]),
        "period_revenue": money(row["revenue"]),
        "period_cost": money(row["total_operational_cost"]),
        "period_profit": money(row["monthly_profit"]),
        "period_margin_pct": pct(row["gross_margin_pct"]),
        "health_status": row["business_health_status"],
        "plan": row["plan_name"],
        "tier": row["tier"],
    }
    numbers = [n for n in properties if n.endswith("_cost") or n in _PERIOD_NUMBERS]
    start = datetime.combine(day, time(0), UTC)
    return _capture("daily_cost", key, start, properties, tenant=row["tenant_id"], numbers=numbers)


_PERIOD_NUMBERS = frozenset({"period_revenue", "period_profit", "period_margin_pct"})


def to_client(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Properties as the client gets them: the listed numbers as Decimal (the client writes
    them as JSON numbers; exact up to 15 significant digits), everything else as stored."""
    numbers = set(payload.get("numbers", ()))
    return {
        name: Decimal(value) if name in numbers and value is not None else value
        for name, value in payload["properties"].items()
    }


def keys(messages: Sequence[Message]) -> list[str]:
    return [m.key for m in messages]
