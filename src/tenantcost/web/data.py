"""What each page and API endpoint shows, as plain dicts (Decimals exact until presentation).

Every figure comes from the one cost model (``tenant_period_figures`` and
``tenant_cost_ledger`` through ``tenantcost.report``): the same numbers the CLI reports print.
Pages show one period (a UTC month; ``?period=YYYY-MM``, default the latest attributed) and
say whether it is provisional and how fresh its figures are.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.report.costs import driver_rows, period_quality
from tenantcost.report.rollup import latest_period, rollup_state
from tenantcost.telemetry.timeutil import add_months, month_period

HEALTH_ORDER = ("Excellent", "Good", "Monitor", "Critical Action Required")
NO_PERIOD = "no month attributed yet — run `tenantcost collect` or `tenantcost attribute`"


def sql(name: str) -> str:
    return queries("tenantcost.web")[name]


def margin_percent(revenue: Decimal, cost: Decimal) -> Decimal | None:
    """(revenue − cost) ÷ revenue × 100, unrounded; None (n/a) when there is no revenue."""
    if revenue == 0:
        return None
    return (revenue - cost) / revenue * 100


def choose_period(conn: Connection, requested: str | None) -> str | None:
    """The month a page shows: ``?period=`` when given (validated), else the latest."""
    if requested:
        return month_period(requested).key
    return latest_period(conn)


def periods(conn: Connection) -> list[dict[str, Any]]:
    from tenantcost.report.rollup import sql as report_sql

    return [dict(r) for r in conn.execute(report_sql("periods")).fetchall()]


def freshness(conn: Connection, period: str | None) -> dict[str, Any]:
    return rollup_state(conn, period).as_dict()


def month_key(name: str, period: str | None) -> tuple[str | None, ...]:
    """(pure) The page-cache key of a part of a month that several pages show (its freshness,
    plans, counts; the months list belongs to no month): one key, so one kept entry."""
    return (name,) if name == "periods" else (name, period)


# ----------------------------------------------------------------------------- overview


def month_totals(conn: Connection, period: str) -> tuple[Decimal, Decimal] | None:
    """(revenue, whole cost) of a month, None when it was never attributed."""
    row: Any = conn.execute(sql("month_totals"), {"period": period}).fetchone()
    if row is None or row["cost"] is None:
        return None
    return Decimal(row["revenue"]), Decimal(row["cost"])


def trend(conn: Connection, period: str, margin_now: Decimal | None) -> dict[str, Any]:
    """Margin now against the month before (the same definition for both), in points."""
    before = add_months(month_period(period).start, -1)
    key = f"{before:%Y-%m}"
    totals = month_totals(conn, key)
    if totals is None:
        return {"available": False, "compared_with": key, "note": f"no figures for {key}"}
    then = margin_percent(*totals)
    change = None if then is None or margin_now is None else margin_now - then
    return {
        "available": change is not None,
        "compared_with": key,
        "margin_pct_then": then,
        "change_points": change,
        "note": "" if change is not None else "no revenue then or now",
    }


def overview(conn: Connection, period: str | None = None, *, top: int = 10) -> dict[str, Any]:
    """Totals, plans, cost drivers, costliest tenants and tier signals of one period."""
    found = overview_figures(conn, period, top=top)
    if not found["available"]:
        return found
    return {**found, "tier_decisions": tier_signals(conn, top)}


def overview_figures(
    conn: Connection, period: str | None = None, *, top: int = 10
) -> dict[str, Any]:
    """The overview's figures (all but the live tier signals): what the page caches until
    the figures' next refresh."""
    period = period or latest_period(conn)
    if period is None:
        return {"available": False, "note": NO_PERIOD, "freshness": freshness(conn, None)}
    info = period_quality(conn, period)
    plans = [dict(p) for p in conn.execute(sql("plan_breakdown"), {"period": period})]
    tenant_cost = sum((Decimal(p["cost"]) for p in plans), Decimal(0))
    drivers = driver_rows(conn, period)
    revenue, total = month_totals(conn, period) or (Decimal(0), Decimal(0))
    margin = margin_percent(revenue, total)
    return {
        "available": True,
        "period": period,
        "freshness": freshness(conn, period),
        "quality": info,
        "totals": {
            "revenue": revenue,
            "cost": total,
            "tenant_cost": tenant_cost,
            "unallocated_cost": total - tenant_cost,
            "gross_profit": revenue - total,
            "gross_margin_pct": margin,
            "tenants": sum(int(p["tenants"]) for p in plans),
        },
        "trend": trend(conn, period, margin),
        "plans": plans,
        "cost_drivers": [d for d in drivers if d["line"] != "total" and d["amount"]],
        "costliest_tenants": [
            dict(r)
            for r in conn.execute(sql("costliest_tenants"), {"period": period, "limit": top})
        ],
    }


def fetch_all(conn: Connection, statements: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
    """Each statement's rows, the statements sent together (one round trip: a pipeline)."""
    with conn.pipeline():
        cursors = [conn.execute(text, params) for text, params in statements]
    return [cur.fetchall() for cur in cursors]


def tier_signals(conn: Connection, limit: int) -> dict[str, Any]:
    """Signals in force and open alert episodes (tenantcost tiers decisions / alerts)."""
    return live_signals(conn, limit)[0]


def live_signals(
    conn: Connection, limit: int, *also: tuple[str, Mapping[str, Any]]
) -> tuple[dict[str, Any], list[Any]]:
    """``tier_signals``, and the rows of the ``also`` statements, all sent in one round
    trip (the overview's live parts)."""
    from tenantcost.tiers.store import sql as tiers_sql

    decisions, alerts, *more = fetch_all(
        conn,
        [
            (tiers_sql("decisions"), {"active": True, "limit": limit}),
            (tiers_sql("alerts"), {"open_only": True, "limit": limit}),
            *also,
        ],
    )
    signals = {
        "available": True,
        "decisions": decisions,
        "alerts": alerts,
        "note": "" if decisions or alerts else "no tier signal in force and no open alert",
    }
    return signals, more


def health_counts(conn: Connection, period: str | None) -> list[dict[str, Any]]:
    found = {
        r["business_health_status"]: int(r["tenants"])
        for r in conn.execute(sql("health_counts"), {"period": period})
    }
    return [{"business_health_status": h, "tenants": found.get(h, 0)} for h in HEALTH_ORDER]


def plan_names(conn: Connection, period: str | None) -> list[str]:
    return [r["plan_name"] for r in conn.execute(sql("plan_names"), {"period": period})]


# ----------------------------------------------------------------------------- tenant


def tenant_detail(conn: Connection, tenant_id: UUID, period: str | None) -> dict[str, Any] | None:
    """Everything the tenant page shows; None when no company has this id."""
    found = tenant_figures(conn, tenant_id, period)
    return None if found is None else {**found, **tenant_signals(conn, tenant_id)}


def tenant_signals(conn: Connection, tenant_id: UUID) -> dict[str, Any]:
    """The tenant's tier signals and alerts (live: tier evaluation writes them between
    refreshes)."""
    params = {"tenant_id": tenant_id, "limit": 50}
    decisions, alerts = fetch_all(
        conn, [(sql("tenant_decisions"), params), (sql("tenant_alerts"), params)]
    )
    return {"decisions": decisions, "alerts": alerts}


def tenant_figures(
    conn: Connection,
    tenant_id: UUID,
    period: str | None,
    memo: Callable[[Hashable, Callable[[], Any]], Any] | None = None,
) -> dict[str, Any] | None:
    """The tenant page's figures, resources and usage (what the page caches until the next
    refresh); None when no company has this id. Every query reads one tenant's rows; they
    are sent together (two round trips: the audit needs the resources' ids). ``memo``: where
    the period's freshness (the same for every tenant) is kept, e.g. the page cache."""
    params: dict[str, Any] = {"tenant_id": tenant_id, "period": period}
    names = ["company", "tenant_vps", "tenant_ips", "tenant_history", "tenant_monthly"]
    names += ["tenant_usage_monthly"] + (["tenant_summary", "tenant_ledger"] if period else [])
    found = dict(zip(names, fetch_all(conn, [(sql(n), params) for n in names]), strict=True))
    if not found["company"]:
        return None
    company, vps, ips = found["company"][0], found["tenant_vps"], found["tenant_ips"]
    audit = conn.execute(
        sql("resource_audit_named"),
        {
            "vps_ids": [str(v["id"]) for v in vps],
            "ip_ids": [str(i["id"]) for i in ips],
            "limit": 200,
        },
    ).fetchall()
    fresh = partial(freshness, conn, period)
    return {
        "tenant_id": company["id"],
        "company_name": company["name"],
        "period": period,
        "freshness": memo(month_key("freshness", period), fresh) if memo else fresh(),
        "summary": found["tenant_summary"][0] if found.get("tenant_summary") else None,
        "history": [dict(r) for r in found["tenant_history"]],
        "ledger": [dict(r) for r in found.get("tenant_ledger", [])],
        "vps": vps,
        "ips": ips,
        "audit": audit,
        "monthly": found["tenant_monthly"],
        "usage": [dict(r) for r in found["tenant_usage_monthly"]],
    }


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
    from tenantcost.tiers.store import list_tiers
    from tenantcost.web.labels import setting_label

    settings = []
    for s in list_settings(conn):
        choices = list(SETTINGS[s["key"]].choices) if s["key"] in SETTINGS else []
        label = setting_label(s["key"], bool(choices))
        settings.append(
            {
                **s,
                "editable": s["key"] in SETTINGS,
                "choices": choices,
                "label": label.label,
                "kind": label.kind,
                "field_label": label.field_label,
                "input_mode": label.input_mode,
            }
        )
    return {
        "settings": settings,
        "tiers": list_tiers(conn),
        "audit": conn.execute(sql("setting_audit"), {"limit": 100}).fetchall(),
        "price_books": books,
        "freshness": freshness(conn, None),
    }


def require_tenant_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise UserError(f"{text!r} is not a tenant id", "tenant ids are UUIDs") from None


# ----------------------------------------------------------------------------- what-if


def replay_plans(conn: Connection) -> list[dict[str, Any]]:
    """Plans with figures, their list price and tenants in the latest month."""
    return conn.execute(sql("replay_plans")).fetchall()


def plan_history(conn: Connection, plan: str) -> list[dict[str, Any]]:
    """Every month's figures of the plan's tenants (whatif.replay_months' input)."""
    return conn.execute(sql("replay_history"), {"plan": plan}).fetchall()
