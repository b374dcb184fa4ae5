"""Tier definitions and plan links: validated, then written in one statement each."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError


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


def link_plan(conn: Connection, plan: str, tier: str) -> str:
    """Govern a plan's tenants by a tier; returns the plan's name."""
    with conn.transaction():
        found = conn.execute(sql("plan_by_name"), {"plan": plan}).fetchall()
        if len(found) != 1:
            raise UserError(
                f"no single plan named {plan!r}" if not found else f"plan {plan!r} is ambiguous",
                "give the plan's exact name or id (see `tenantcost report cost-by-plan`)",
            )
        if get_tier(conn, tier) is None:
            raise UserError(f"no tier {tier!r}", "create it with `tenantcost tiers set`")
        conn.execute(sql("link_plan"), {"plan_id": found[0]["id"], "tier": tier})
    return str(found[0]["name"])
