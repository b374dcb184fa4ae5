"""Tier definitions and plan links: validated, then written in one statement each."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.numbers import parse_decimal, parse_integer


def sql(name: str) -> str:
    return queries("tenantcost.tiers")[name]


class Tier(BaseModel):
    """One tier's price and ceilings (seed 002 §6.4 and §8.1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="Upper-case, e.g. STARTER.")
    monthly_price: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    cost_ceiling: Decimal = Field(gt=0, description="Monthly attributed cost allowed, USD.")
    storage_gb_ceiling: Decimal | None = Field(default=None, gt=0)
    requests_per_hour_ceiling: int | None = Field(default=None, gt=0)
    latency_target_ms: int | None = Field(default=None, gt=0)
    margin_floor_pct: Decimal = Field(default=Decimal(70), ge=0, le=100)


class FieldLimit(NamedTuple):
    """What one tier field accepts: bounds, and decimals (None: a whole number)."""

    minimum: Decimal
    maximum: Decimal
    places: int | None
    example: str


#: Every number a tier holds, bounded as its ``tiers`` column is (migration 0009): the CLI
#: and the settings page both parse through :func:`parse_tier_field`, so they accept the same.
TIER_LIMITS: dict[str, FieldLimit] = {
    "monthly_price": FieldLimit(Decimal(0), Decimal("99999999.99"), 2, "25.00"),  # (10,2)
    "cost_ceiling": FieldLimit(Decimal("0.0001"), Decimal("99999999.9999"), 4, "5"),  # (12,4)
    "storage_gb_ceiling": FieldLimit(Decimal("0.001"), Decimal("999999999.999"), 3, "10"),
    "requests_per_hour_ceiling": FieldLimit(Decimal(1), Decimal(2**31 - 1), None, "500"),
    "latency_target_ms": FieldLimit(Decimal(1), Decimal(2**31 - 1), None, "200"),
    "margin_floor_pct": FieldLimit(Decimal(0), Decimal(100), 2, "70"),  # (5,2)
}
#: Ceilings a tier may go without (blank on the form: no ceiling).
OPTIONAL_FIELDS = ("storage_gb_ceiling", "requests_per_hour_ceiling", "latency_target_ms")


def parse_tier_field(field: str, text: str, what: str) -> Decimal | int:
    """(pure) One tier field typed by a person, parsed strictly (plain digits) within its
    column's bounds; ``what`` names it in the error (an option or a form label)."""
    limit = TIER_LIMITS[field]
    if limit.places is None:
        return parse_integer(
            text,
            what=what,
            minimum=int(limit.minimum),
            maximum=int(limit.maximum),
            example=limit.example,
        )
    return parse_decimal(
        text,
        what=what,
        minimum=limit.minimum,
        maximum=limit.maximum,
        places=limit.places,
        example=limit.example,
    )


def tier_changes(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[tuple[str, str | None, str | None]]:
    """(pure) The tier fields whose value differs (as numbers: 5 and 5.00 are the same), as
    (field, old text, new text) for the audit trail."""
    changes = []
    for field in TIER_LIMITS:
        before, after = old.get(field), new.get(field)
        if before is None and after is None:
            continue
        if before is None or after is None or Decimal(before) != Decimal(after):
            changes.append((field, _text(before), _text(after)))
    return changes


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def save_tier_audited(
    conn: Connection,
    tier: Tier,
    changes: list[tuple[str, str | None, str | None]],
    source: str,
    reason: str,
) -> None:
    """Save a tier and one ``cost_audit`` row per changed field (entity ``setting``,
    ``tier NAME.field``: the audit table's entities are fixed by its migration), together."""
    from tenantcost.costs.audit import record_change

    with conn.transaction():
        save_tier(conn, tier)
        for field, old, new in changes:
            record_change(conn, "setting", f"tier {tier.name}.{field}", old, new, source, reason)


def tier_from_input(**fields: Any) -> Tier:
    """Validate CLI/form input, naming the bad field and what it accepts."""
    try:
        return Tier(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise UserError(
            f"tier {field}: {err['msg']}", "see `tenantcost tiers set --help`"
        ) from None


def list_tiers(conn: Connection) -> list[dict[str, Any]]:
    return conn.execute(sql("tiers")).fetchall()


def get_tier(conn: Connection, name: str) -> dict[str, Any] | None:
    return conn.execute(sql("tier_get"), {"name": name}).fetchone()


def save_tier(conn: Connection, tier: Tier) -> None:
    with conn.transaction():
        conn.execute(sql("tier_upsert"), tier.model_dump())


def link_plan(conn: Connection, plan: str, tier: str, source: str, reason: str) -> str:
    """Govern a plan's tenants by a tier, audited (``cost_audit`` entity ``setting``,
    ``plan NAME.tier``: which ceilings a plan's tenants answer to is a cost setting);
    returns the plan's name. Linking a plan to the tier it has already writes nothing."""
    from tenantcost.costs.audit import record_change

    with conn.transaction():
        found = conn.execute(sql("plan_by_name"), {"plan": plan}).fetchall()
        if len(found) != 1:
            raise UserError(
                f"no single plan named {plan!r}" if not found else f"plan {plan!r} is ambiguous",
                "give the plan's exact name or id (see `tenantcost report cost-by-plan`)",
            )
        if get_tier(conn, tier) is None:
            raise UserError(f"no tier {tier!r}", "create it with `tenantcost tiers set`")
        name, before = str(found[0]["name"]), found[0]["tier"]
        if before != tier:
            conn.execute(sql("link_plan"), {"plan_id": found[0]["id"], "tier": tier})
            record_change(conn, "setting", f"plan {name}.tier", before, tier, source, reason)
    return name
