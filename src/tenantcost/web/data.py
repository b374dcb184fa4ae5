"""What each page and API endpoint shows, as plain dicts (Decimals exact until presentation).

Reads the materialized rollups of migration 0006 (fast at 10,000 tenants); the figures are as
of the rollups' last refresh, which every page states. Usage-based drivers (compute, memory,
storage, network, overhead) come from the attribution ledger (migration 0007) when it exists
and has rows; until then the pages say so instead of showing zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries

CENT = Decimal("0.01")
HEALTH_ORDER = ("Excellent", "Good", "Monitor", "Critical Action Required")
NO_USAGE = "no usage data yet — run `tenantcost collect`"
LEDGER = "tenant_cost_ledger"
USAGE_DRIVERS = ("compute", "memory", "storage", "network", "overhead")


def sql(name: str) -> str:
    return queries("tenantcost.web")[name]


def money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def margin_percent(revenue: Decimal, cost: Decimal) -> Decimal | None:
    """(revenue − cost) ÷ revenue × 100, one decimal; None when there is no revenue."""
    if revenue == 0:
        return None
    return ((revenue - cost) / revenue * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def shares(amounts: dict[str, Decimal]) -> list[dict[str, Any]]:
    """Each amount with its share of the total in percent (one decimal); 0 shares when empty."""
    total = sum(amounts.values(), Decimal(0))
    return [
        {
            "driver": name,
            "amount": money(amount),
            "share_pct": (amount / total * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            if total
            else Decimal("0.0"),
        }
        for name, amount in amounts.items()
    ]


def relation_exists(conn: Connection, name: str) -> bool:
    row = conn.execute(sql("relation_exists"), {"name": name}).fetchone()
    return bool(row and row["present"])


@dataclass(frozen=True)
class Freshness:
    refreshed_at: datetime | None
    tenants: int
    allocation_rule: str | None
    current_rule: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "refreshed_at": self.refreshed_at,
            "tenants": self.tenants,
            "allocation_rule": self.allocation_rule,
            "current_rule": self.current_rule,
            "stale_rule": self.allocation_rule is not None
            and self.allocation_rule != self.current_rule,
        }


def freshness(conn: Connection) -> Freshness:
    row = conn.execute(sql("rollup_freshness")).fetchone()
    assert row is not None
    return Freshness(
        row["refreshed_at"], int(row["tenants"]), row["allocation_rule"], row["current_rule"]
    )


# ----------------------------------------------------------------------------- overview


def usage_drivers(conn: Connection) -> dict[str, Decimal] | None:
    """This month's bottom-up ledger cost per usage driver (idle lines as overhead), or None
    when the ledger is absent or has nothing for the month."""
    if not relation_exists(conn, LEDGER):
        return None
    rows = conn.execute(sql("ledger_month_drivers")).fetchall()
    if not rows:
        return None
    return {str(r["driver"]): Decimal(r["amount"]) for r in rows}


def trend(conn: Connection, today: date, days: int, margin_now: Decimal | None) -> dict[str, Any]:
    """Margin now vs the latest snapshot at least ``days`` ago (points), or why there is none."""
    row = conn.execute(sql("snapshot_before"), {"day": today - timedelta(days=days)}).fetchone()
    if row is None:
        return {
            "available": False,
            "note": f"no snapshot {days} or more days old yet (the dashboard's jobs take one a day)",
        }
    before = margin_percent(Decimal(row["revenue"]), Decimal(row["cost"]))
    change = None if before is None or margin_now is None else margin_now - before
    return {
        "available": change is not None,
        "compared_with": row["day"],
        "margin_pct_then": before,
        "change_points": change,
        "note": "" if change is not None else "no revenue then or now",
    }


def overview(conn: Connection, *, top: int = 10) -> dict[str, Any]:
    plans = conn.execute(sql("plan_breakdown")).fetchall()
    shared = conn.execute(sql("shared_lines")).fetchall()
    fixed = conn.execute(sql("cost_drivers_fixed")).fetchone()
    assert fixed is not None
    unallocated = sum((Decimal(r["total_cost"]) for r in shared), Decimal(0))
    revenue = sum((Decimal(p["revenue"]) for p in plans), Decimal(0))
    tenant_cost = sum((Decimal(p["cost"]) for p in plans), Decimal(0))
    cost = tenant_cost + unallocated
    margin = margin_percent(revenue, cost)
    usage = usage_drivers(conn)
    drivers = {"VPS": Decimal(fixed["vps"]), "IPs": Decimal(fixed["ips"])}
    if usage:
        drivers = {**{d: usage.get(d, Decimal(0)) for d in USAGE_DRIVERS}, **drivers}
    return {
        "freshness": freshness(conn).as_dict(),
        "totals": {
            "revenue": money(revenue),
            "cost": money(cost),
            "tenant_cost": money(tenant_cost),
            "unallocated_cost": money(unallocated),
            "gross_profit": money(revenue - cost),
            "gross_margin_pct": margin,
            "tenants": sum(int(p["tenants"]) for p in plans),
        },
        "trend": trend(conn, datetime.now(UTC).date(), 30, margin),
        "plans": [
            {
                "plan_name": p["plan_name"],
                "tenants": int(p["tenants"]),
                "cost": money(p["cost"]),
                "revenue": money(p["revenue"]),
                "profit": money(p["profit"]),
                "margin_pct": p["margin_pct"],
            }
            for p in plans
        ],
        "cost_drivers": shares(drivers),
        "usage_drivers_note": "" if usage else NO_USAGE,
        "top_cost_tenants": [
            {**r, "cost": money(r["cost"]), "revenue": money(r["revenue"])}
            for r in conn.execute(sql("top_cost_tenants"), {"limit": top}).fetchall()
        ],
        "tier_decisions": tier_signals(conn, top),
    }


def tier_signals(conn: Connection, limit: int) -> dict[str, Any]:
    """Signals in force and open alert episodes (tenantcost tiers decisions / alerts)."""
    from tenantcost.tiers.store import sql as tiers_sql

    decisions = conn.execute(tiers_sql("decisions"), {"active": True, "limit": limit}).fetchall()
    alerts = conn.execute(tiers_sql("alerts"), {"open_only": True, "limit": limit}).fetchall()
    return {
        "available": True,
        "decisions": decisions,
        "alerts": alerts,
        "note": "" if decisions or alerts else "no tier signal in force and no open alert",
    }


def health_counts(conn: Connection) -> list[dict[str, Any]]:
    found = {
        r["business_health_status"]: int(r["tenants"]) for r in conn.execute(sql("health_counts"))
    }
    return [{"business_health_status": h, "tenants": found.get(h, 0)} for h in HEALTH_ORDER]


def plan_names(conn: Connection) -> list[str]:
    return [r["plan_name"] for r in conn.execute(sql("plan_names"))]


# ----------------------------------------------------------------------------- tenant


def tenant_detail(conn: Connection, tenant_id: UUID) -> dict[str, Any] | None:
    """Everything the tenant page shows; None when no company has this id."""
    params = {"tenant_id": tenant_id}
    company = conn.execute(sql("company"), params).fetchone()
    if company is None:
        return None
    summary = conn.execute(sql("tenant_summary"), params).fetchone()
    vps = conn.execute(sql("tenant_vps"), params).fetchall()
    ips = conn.execute(sql("tenant_ips"), params).fetchall()
    audit = conn.execute(
        sql("resource_audit"),
        {
            "vps_ids": [str(v["id"]) for v in vps],
            "ip_ids": [str(i["id"]) for i in ips],
            "limit": 200,
        },
    ).fetchall()
    monthly = conn.execute(sql("tenant_monthly"), params).fetchall()
    return {
        "tenant_id": company["id"],
        "company_name": company["name"],
        "summary": summary,
        "vps": vps,
        "ips": ips,
        "audit": audit,
        "monthly": monthly,
        "usage": tenant_usage(conn, tenant_id),
    }


def tenant_usage(conn: Connection, tenant_id: UUID) -> dict[str, Any]:
    """Bottom-up ledger cost by driver and month for one tenant, or a note when none."""
    if relation_exists(conn, LEDGER):
        rows = conn.execute(sql("ledger_tenant_months"), {"tenant_id": tenant_id}).fetchall()
        if rows:
            return {"available": True, "rows": rows, "note": ""}
    return {"available": False, "rows": [], "note": NO_USAGE}


# ----------------------------------------------------------------------------- settings


def settings_page(conn: Connection) -> dict[str, Any]:
    from tenantcost.costs.store import SETTINGS, list_settings
    from tenantcost.pricing.book import shipped_price_books
    from tenantcost.pricing.store import stored_books

    stored = {b.name: b for b in stored_books(conn)}
    shipped = {b.name: b for b in shipped_price_books()}
    books = []
    for name in sorted(set(stored) | set(shipped)):
        book = stored.get(name) or shipped[name]
        books.append(
            {
                "name": name,
                "provider": book.provider,
                "currency": book.currency,
                "effective_from": book.effective_from,
                "source_url": book.source_url,
                "stored": name in stored,
                "shipped": name in shipped,
            }
        )
    return {
        "settings": [
            {
                **s,
                "editable": s["key"] in SETTINGS,
                "choices": list(SETTINGS[s["key"]].choices) if s["key"] in SETTINGS else [],
            }
            for s in list_settings(conn)
        ],
        "audit": conn.execute(sql("setting_audit"), {"limit": 100}).fetchall(),
        "price_books": books,
        "freshness": freshness(conn).as_dict(),
    }


# ----------------------------------------------------------------------------- snapshots


def take_snapshot(conn: Connection) -> None:
    """Today's per-plan figures (idempotent: a second run the same day overwrites them)."""
    with conn.transaction():
        conn.execute(sql("snapshot_upsert"))
