"""The settings page's tier form: validate each field (errors named beside it), then save the
tier with ``tiers.store`` and one ``cost_audit`` row per changed field, in one transaction.

Bounds, parsing, change detection and the audited save are ``tiers.store``'s, shared with
``tenantcost tiers set``: both accept the same values and audit the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.web.labels import TIER_FIELDS


@dataclass
class TierForm:
    """What the form sent (kept to show again) and, per field, what is wrong with it."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    changes: list[tuple[str, str | None, str | None]] = field(default_factory=list)


def parse_tier_form(current: Mapping[str, Any], form: Mapping[str, str]) -> TierForm:
    """(pure) The form against the tier as stored: typed values, field errors, and the
    (field, old, new) changes. A blank optional ceiling means "no ceiling"."""
    from tenantcost.tiers.store import OPTIONAL_FIELDS, Tier, parse_tier_field, tier_changes

    result = TierForm({f: (form.get(f) or "").strip() for f in TIER_FIELDS})
    typed: dict[str, Any] = {"name": current["name"]}
    for name, text in result.values.items():
        label = TIER_FIELDS[name].label
        if text == "":
            if name in OPTIONAL_FIELDS:
                typed[name] = None
            else:
                result.errors[name] = f"{label} is required"
            continue
        try:
            typed[name] = parse_tier_field(name, text, label)
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
    result.changes = tier_changes(current, tier.model_dump())
    return result


def change_tier(
    conn: Connection, user_name: str, name: str, form: Mapping[str, str], reason: str
) -> TierForm:
    """Validate and save one tier's price and ceilings; audited, all or nothing.
    Field errors come back in ``TierForm.errors`` (nothing written); a missing reason or
    tier is a UserError."""
    from tenantcost.tiers.store import TIER_LIMITS, Tier, get_tier, save_tier_audited

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
        whole = TIER_LIMITS[f].places is None
        values[f] = None if new is None else (int(new) if whole else Decimal(new))
    why = f"{reason.strip()} [dashboard user {user_name}]"
    save_tier_audited(conn, Tier(name=name, **values), parsed.changes, "dashboard", why)
    return parsed
