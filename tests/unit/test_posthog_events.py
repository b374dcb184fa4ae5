"""PostHog messages from rows (pure): stable keys and uuids, shapes, what is never sent."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from tenantcost.analytics import events
from tenantcost.analytics.cli import parse_since
from tenantcost.errors import UserError

NAMESPACE = uuid.UUID("0b6f5a52-7d0e-5d8e-9a57-3c1f2e4b6d81")  # written out: must never change
TENANT = uuid.UUID("11111111-2222-3333-4444-555555555555")
HOUR = datetime(2026, 11, 20, 5, tzinfo=UTC)


def decision_row() -> dict[str, object]:
    return {
        "tenant_id": TENANT,
        "tier": "PRO",
        "hour": HOUR,
        "from_level": "suggest_upgrade",
        "to_level": "hard_throttle",
        "ceiling": "requests_per_hour",
        "figure": D("1200"),
        "ceiling_value": D("500"),
        "ratio": D("2.4"),
        "episode_since": datetime(2026, 11, 20, 2, tzinfo=UTC),
    }


def test_a_decision_has_the_same_uuid_whenever_it_is_built() -> None:
    first = events.tier_decision(decision_row())
    again = events.tier_decision(decision_row())
    key = f"tier_decision:{TENANT}:2026-11-20T05"
    assert first.key == key and first.payload == again.payload
    assert first.payload["uuid"] == str(uuid.uuid5(NAMESPACE, key))
    assert first.payload["timestamp"] == "2026-11-20T06:00:00+00:00"
    assert first.payload["properties"]["pct_of_ceiling"] == "240.0"  # 2.4 × 100
    assert first.payload["properties"]["figure"] == "1200.000000"
    assert first.payload["groups"] == {"tenant": str(TENANT)}
    # the stored payload is JSON as it is (the outbox keeps it in jsonb)
    assert json.loads(json.dumps(first.payload)) == first.payload


def test_numbers_reach_the_client_as_decimals_and_nothing_else_changes() -> None:
    payload = events.tier_decision(decision_row()).payload
    props = events.to_client(payload)
    assert props["figure"] == D("1200.000000") and props["pct_of_ceiling"] == D("240.0")
    assert props["signal"] == "hard_throttle" and props["tier"] == "PRO"


def test_abuse_groups_never_carry_the_domain_or_ip() -> None:
    row = {
        "signal": "signup_ip",
        "shared_value": "198.51.100.7",
        "tenants": 3,
        "combined_cost": D("0.35"),
        "tenant_ids": [TENANT, uuid.UUID(int=2), uuid.UUID(int=1)],
    }
    message = events.abuse_group(row, period="2026-11", now=HOUR)
    text = json.dumps(message.payload)
    assert "198.51.100.7" not in text
    assert message.payload["properties"]["combined_cost"] == "0.350000"
    assert message.payload["properties"]["tenant_ids"][0] == str(uuid.UUID(int=1))  # sorted
    # A new member makes a new event; the same members, the same key.
    grown = {**row, "tenants": 4, "tenant_ids": [*row["tenant_ids"], uuid.UUID(int=9)]}  # type: ignore[list-item]
    assert events.abuse_group(grown, period="2026-11", now=HOUR).key != message.key
    assert events.abuse_group(row, period="2026-11", now=HOUR).key == message.key


def test_alert_keys_name_the_episode_and_tenant_alerts_carry_the_group() -> None:
    row = {
        "kind": "cost_jump",
        "subject": str(TENANT),
        "opened_at": HOUR,
        "closed_at": datetime(2026, 11, 20, 9, tzinfo=UTC),
        "message": "jump",
        "details": {"cost": "0.5", "z": "None"},
    }
    opened = events.alert(row, closed=False)
    closed = events.alert(row, closed=True)
    assert opened.key == f"alert_opened:cost_jump:{TENANT}:2026-11-20T05:00"
    assert closed.key == f"alert_closed:cost_jump:{TENANT}:2026-11-20T05:00"
    assert closed.payload["timestamp"] == "2026-11-20T09:00:00+00:00"
    assert opened.payload["groups"] == {"tenant": str(TENANT)}
    assert opened.payload["properties"]["detail_cost"] == "0.500000"
    assert opened.payload["properties"]["detail_z"] is None
    assert opened.payload["numbers"] == ["detail_cost"]
    plan = events.alert({**row, "kind": "plan_cost_above_price", "subject": "Pro"}, closed=False)
    assert "groups" not in plan.payload and plan.payload["distinct_id"] == "tenantcost"


def test_group_properties_are_keyed_by_day() -> None:
    row = {
        "tenant_id": TENANT,
        "company_name": "acme",
        "plan_name": "Pro",
        "tier": "PRO",
        "period": "2026-11",
        "total_operational_cost": D("12.3456789"),
        "revenue": D("25"),
        "monthly_profit": D("12.6543211"),
        "gross_margin_pct": D("50.61728"),
        "business_health_status": "Monitor",
    }
    message = events.tenant_group(
        row, status="provisional", covered_until=HOUR, day=date(2026, 11, 20), now=HOUR
    )
    assert message.key == f"tenant_group:2026-11-20:{TENANT}"
    assert message.payload["type"] == "group_identify"
    assert message.payload["properties"]["monthly_cost"] == "12.345679"  # half up at 6
    assert message.payload["properties"]["margin_pct"] == "50.6"


def test_since_takes_a_date_or_a_utc_time() -> None:
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T05:30") == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert parse_since("2026-11-01T05:30+01:00") == datetime(2026, 11, 1, 4, 30, tzinfo=UTC)
    with pytest.raises(UserError, match="--since"):
        parse_since("last week")
