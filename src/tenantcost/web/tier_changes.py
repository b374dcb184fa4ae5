"""The settings page's tier form: validate each field (errors named beside it), then save the
tier with ``tiers.store`` and one ``cost_audit`` row per changed field, in one transaction.

Audit rows use the existing ``setting`` entity with ``entity_id`` ``tier NAME.field`` (the
audit table's entities are fixed by its migration), so they show in the settings audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.numbers import parse_decimal, parse_integer
from tenantcost.web.labels import TIER_FIELDS

OPTIONAL = ("storage_gb_ceiling", "requests_per_hour_ceiling", "latency_target_ms")
WHOLE = ("requests_per_hour_ceiling", "latency_target_ms")


@dataclass
class TierForm:
    """What the form sent (kept to show again) and, per field, what is wrong with it."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    changes: list[tuple[str, str | None, str | None]] = field(default_factory=list)


#: Each number's bounds and decimals, as the ``tiers`` columns hold them (migration 0009).
DECIMALS: dict[str, tuple[Decimal, Decimal, int]] = {  # minimum, maximum, places
    "monthly_price": (Decimal(0), Decimal("99999999.99"), 2),
    "cost_ceiling": (Decimal("0.0001"), Decimal("99999999.9999"), 4),
    "storage_gb_ceiling": (Decimal("0.001"), Decimal("999999999.999"), 3),
    "margin_floor_pct": (Decimal(0), Decimal(100), 2),
}
MAX_INT = 2_147_483_647  # integer columns


def _parse(name: str, text: str, label: str) -> Decimal | int:
    """One field through the strict number parsers (no sign, exponent or underscore)."""
    if name in WHOLE:
        return parse_integer(text, what=label, minimum=1, maximum=MAX_INT, example="50")
    low, high, places = DECIMALS[name]
    return parse_decimal(text, what=label, minimum=low, maximum=high, places=places, example="5")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_tier_form(current: Mapping[str, Any], form: Mapping[str, str]) -> TierForm:
    """(pure) The form against the tier as stored: typed values, field errors, and the
    (field, old, new) changes. A blank optional ceiling means "no ceiling"."""
    from tenantcost.tiers.store import Tier

    result = TierForm({f: (form.get(f) or "").strip() for f in TIER_FIELDS})
    typed: dict[str, Any] = {"name": current["name"]}
    for name, text in result.values.items():
        label = TIER_FIELDS[name].label
        if text == "":
            if name in OPTIONAL:
                typed[name] = None
            else:
                result.errors[name] = f"{label} is required"
            continue
        try:
            typed[name] = _parse(name, text, label)
        except UserError as exc:
            result.errors[name] = exc.message + (f" — {exc.hint}" if exc.hint else "")
    if result.errors:
        return result
    try:
        tier = Tier(**typed)
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "monthly_price"
            label = TIER_FIELDS[name].label if name in TIER_FIELDS else name
            result.errors[name] = f"{label}: {err['msg'].lower()}"
        return result
    for name in TIER_FIELDS:
        old, new = current.get(name), getattr(tier, name)
        if old is None and new is None:
            continue
        if old is None or new is None or Decimal(old) != Decimal(new):
            result.changes.append((name, _text(old), _text(new)))
    return result


def change_tier(
    conn: Connection, user_name: str, name: str, form: Mapping[str, str], reason: str
) -> TierForm:
    """Validate and save one tier's price and ceilings; audited, all or nothing.
    Field errors come back in ``TierForm.errors`` (nothing written); a missing reason or
    tier is a UserError."""
    from tenantcost.costs.audit import record_change
    from tenantcost.tiers.store import Tier, get_tier, save_tier

    current = get_tier(conn, name)
    if current is None:
        raise UserError(f"no tier {name!r}", "create it with `tenantcost tiers set`")
    parsed = parse_tier_form(current, form)
    if not parsed.errors and not reason.strip():
        parsed.errors["reason"] = "a reason is required for every change"
    if parsed.errors or not parsed.changes:
        return parsed
    values: dict[str, Any] = {f: current.get(f) for f in TIER_FIELDS}
    for f, _, new in parsed.changes:
        values[f] = None if new is None else (int(new) if f in WHOLE else Decimal(new))
    why = f"{reason.strip()} [dashboard user {user_name}]"
    with conn.transaction():
        save_tier(conn, Tier(name=name, **values))
        for f, old, new in parsed.changes:
            record_change(conn, "setting", f"tier {name}.{f}", old, new, "dashboard", why)
    return parsed
