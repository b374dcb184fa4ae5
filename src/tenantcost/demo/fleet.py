"""A realistic PenguinMails-like fleet, deterministic for a seed and a day.

Companies, subscriptions, VPS and IPs are generated in Python and bulk-loaded with COPY;
the large time series (12 months of payments, 365 days of billing_analytics) are generated
set-based inside PostgreSQL with ``generate_series`` and a seeded hash, which is an order of
magnitude faster than shipping millions of rows from Python.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.providers.fake_hostwinds import default_plans


@dataclass(frozen=True)
class DemoPlan:
    name: str
    price_monthly: Decimal
    share: float  # fraction of tenants on this plan
    dedicated_vps: tuple[int, int]  # inclusive range of dedicated VPS per tenant
    emails_per_day: int  # typical daily volume
    tier: str  # the tier whose ceilings govern this plan's tenants
    addons: tuple[tuple[str, float], ...] = ()  # (add-on, share of tenants taking it)


PLANS = (
    DemoPlan("Free", Decimal("0.00"), 0.30, (0, 0), 40, "FREE"),
    DemoPlan("Starter", Decimal("49.00"), 0.35, (0, 1), 900, "STARTER", (("extra_storage", 0.1),)),
    DemoPlan("Growth", Decimal("149.00"), 0.20, (1, 2), 4_000, "PRO", (("burst_scaling", 0.3),)),
    DemoPlan("Scale", Decimal("399.00"), 0.10, (2, 3), 15_000, "PRO", (("priority_support", 0.3),)),
    DemoPlan(
        "Enterprise",
        Decimal("999.00"),
        0.05,
        (3, 6),
        60_000,
        "ENTERPRISE",
        (("priority_support", 0.6),),
    ),
)


@dataclass(frozen=True)
class VpsPlan:
    """A Hostwinds plan the demo's VPS run on, with its list price per month."""

    plan_id: str
    monthly: Decimal


# The fake Hostwinds price list (uvps-1 is PenguinMails' 9.99 baseline) is the catalogue.
VPS_PLANS = tuple(VpsPlan(p.id, Decimal(p.prices["monthly"])) for p in default_plans())
VPS_PLAN_WEIGHTS = (50, 30, 15, 5)
BILLING_CYCLES = ("monthly", "monthly", "monthly", "quarterly", "annually", "triennially")
VPS_STATUSES = ("active",) * 46 + ("stopped",) * 2 + ("terminated",) * 2
IP_STATUSES = (
    ("active",) * 12 + ("warmed",) * 3 + ("warming",) * 2 + ("retired",) * 2 + ("blacklisted",)
)

WORDS_A = (
    "Blue",
    "North",
    "Bright",
    "Swift",
    "Iron",
    "Quiet",
    "Clever",
    "Urban",
    "Green",
    "Silver",
)
WORDS_B = (
    "Pine",
    "Harbor",
    "Falcon",
    "Ember",
    "Orchid",
    "Summit",
    "Lantern",
    "River",
    "Cedar",
    "Atlas",
)
WORDS_C = ("Mail", "Labs", "Goods", "Media", "Studio", "Health", "Travel", "Foods", "Systems", "Co")


@dataclass
class DemoSummary:
    tenants: int = 0
    plans: int = 0
    subscriptions: int = 0
    vps: int = 0
    shared_vps: int = 0
    ips: int = 0
    payments: int = 0
    analytics_rows: int = 0
    by_plan: dict[str, int] = field(default_factory=dict)


@dataclass
class _Rows:
    plans: list[tuple[object, ...]] = field(default_factory=list)
    plan_tiers: list[tuple[object, ...]] = field(default_factory=list)
    companies: list[tuple[object, ...]] = field(default_factory=list)
    subscriptions: list[tuple[object, ...]] = field(default_factory=list)
    vps: list[tuple[object, ...]] = field(default_factory=list)
    ips: list[tuple[object, ...]] = field(default_factory=list)
    signups: list[tuple[object, ...]] = field(default_factory=list)
    terms: list[tuple[object, ...]] = field(default_factory=list)
    addons: list[tuple[object, ...]] = field(default_factory=list)


# A few FREE signups share a free-mail domain and a signup address (TEST-NET-2, never
# routed): the pattern seed 002 §10 asks to flag.
ABUSE_DOMAINS = ("mailinator.test", "tempbox.test")
ABUSE_IPS = ("198.51.100.7", "198.51.100.23")


def _signup(rng: random.Random, tenant: uuid.UUID, plan: DemoPlan, name: str) -> tuple[object, ...]:
    if plan.tier == "FREE" and rng.random() < 0.15:
        return (tenant, rng.choice(ABUSE_DOMAINS), rng.choice(ABUSE_IPS))
    slug = "".join(ch for ch in name.lower() if ch.isalnum())[:24]
    address = f"198.51.100.{rng.randint(30, 254)}" if rng.random() < 0.5 else None
    return (tenant, f"{slug}.test", address)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _pick_plan(rng: random.Random) -> DemoPlan:
    roll, total = rng.random(), 0.0
    for plan in PLANS:
        total += plan.share
        if roll < total:
            return plan
    return PLANS[-1]


def _vps_row(
    rng: random.Random, tenant: uuid.UUID | None, serial: int
) -> tuple[uuid.UUID, tuple[object, ...]]:
    vps_id = _uuid(rng)
    (plan,) = rng.choices(VPS_PLANS, weights=VPS_PLAN_WEIGHTS)
    # Most costs match the current price list; some are stale so a sync has work to do.
    cost = plan.monthly if rng.random() < 0.9 else plan.monthly - Decimal("1.00")
    row = (
        vps_id,
        f"mx-{serial:06d}",
        rng.choice(VPS_STATUSES),
        tenant,
        cost,
        str(100_000 + serial),
        plan.plan_id,
        rng.choice(BILLING_CYCLES),
        "hostwinds",
    )
    return vps_id, row


def _ip_rows(
    rng: random.Random, vps_id: uuid.UUID, tenant: uuid.UUID | None, serial: int
) -> Iterator[tuple[object, ...]]:
    for n in range(rng.randint(1, 8)):
        address = f"10.{(serial >> 8) & 255}.{serial & 255}.{n + 1}"
        yield (_uuid(rng), vps_id, address, rng.choice(IP_STATUSES), tenant)


def generate(tenants: int, seed: int, today: date) -> tuple[_Rows, DemoSummary]:
    """All non-time-series rows, deterministic for (tenants, seed, today)."""
    rng = random.Random(seed)
    rows, summary = _Rows(), DemoSummary(tenants=tenants, plans=len(PLANS))
    plan_ids = {plan.name: _uuid(rng) for plan in PLANS}
    rows.plans = [(plan_ids[p.name], p.name, p.price_monthly) for p in PLANS]
    rows.plan_tiers = [(plan_ids[p.name], p.tier) for p in PLANS]
    tenant_ids: list[uuid.UUID] = []
    serial = 0
    for i in range(tenants):
        tenant = _uuid(rng)
        tenant_ids.append(tenant)
        plan = _pick_plan(rng)
        summary.by_plan[plan.name] = summary.by_plan.get(plan.name, 0) + 1
        name = f"{rng.choice(WORDS_A)} {rng.choice(WORDS_B)} {rng.choice(WORDS_C)} {i + 1}"
        rows.companies.append((tenant, name))
        start = datetime.combine(
            today - timedelta(days=rng.randint(0, 29)), datetime.min.time(), UTC
        )
        status = "active" if rng.random() < 0.96 else rng.choice(("past_due", "canceled"))
        subscription = _uuid(rng)
        rows.subscriptions.append(
            (subscription, tenant, plan_ids[plan.name], status, start, _add_month(start))
        )
        rows.signups.append(_signup(rng, tenant, plan, name))
        if plan.price_monthly > 0:
            rows.terms.append((subscription, rng.random() < 0.2, rng.random() < 0.05))
        for addon, take_rate in plan.addons:
            if rng.random() < take_rate:
                quantity = rng.randint(5, 50) if addon == "extra_storage" else 1
                rows.addons.append((subscription, addon, quantity))
        for _ in range(rng.randint(*plan.dedicated_vps)):
            serial += 1
            vps_id, vps = _vps_row(rng, tenant, serial)
            rows.vps.append(vps)
            rows.ips.extend(_ip_rows(rng, vps_id, None, serial))
    for _ in range(tenants):  # the shared sending pool: one VPS per tenant on average
        serial += 1
        vps_id, vps = _vps_row(rng, None, serial)
        rows.vps.append(vps)
        summary.shared_vps += 1
        for ip in _ip_rows(rng, vps_id, None, serial):
            # Half the pool's IPs are dedicated to one tenant; the rest are shared.
            owner = rng.choice(tenant_ids) if tenant_ids and rng.random() < 0.5 else None
            rows.ips.append((*ip[:4], owner))
    summary.subscriptions = len(rows.subscriptions)
    summary.vps, summary.ips = len(rows.vps), len(rows.ips)
    return rows, summary


def _add_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, 28)
    return moment.replace(year=year, month=month, day=day)


COPIES = (
    ("plans", "COPY plans (id, name, price_monthly) FROM STDIN"),
    ("companies", "COPY companies (id, name) FROM STDIN"),
    (
        "subscriptions",
        "COPY subscriptions (id, tenant_id, plan_id, status, current_period_start, "
        "current_period_end) FROM STDIN",
    ),
    (
        "vps",
        "COPY vps_instances (id, name, status, tenant_id, approximate_cost, hostwinds_service_id, "
        "hostwinds_plan_id, billing_cycle, cost_source) FROM STDIN",
    ),
    (
        "ips",
        "COPY smtp_ip_addresses (id, vps_instance_id, ip_address, status, tenant_id) FROM STDIN",
    ),
    ("plan_tiers", "COPY plan_tiers (plan_id, tier) FROM STDIN"),
    ("signups", "COPY tenant_signups (tenant_id, email_domain, signup_ip) FROM STDIN"),
    (
        "terms",
        "COPY subscription_terms (subscription_id, annual_prepay, multi_project) FROM STDIN",
    ),
    ("addons", "COPY subscription_addons (subscription_id, addon, quantity) FROM STDIN"),
)


def insert_rows(conn: Connection, table: str, rows_sql: str, params: dict[str, Any]) -> int:
    """Insert ``rows_sql``'s rows into the columns ``table`` has: the application's payments
    and analytics carry ``tenant_id`` only in the shape it takes to distribute by tenant
    (Citus; docs/citus.md), and their ``id`` may have no default there."""
    from psycopg import sql

    have = {
        r["column_name"]
        for r in conn.execute(queries("tenantcost.demo")["table_columns"], {"table": table})
    }
    picked = [sql.Identifier(c) for c in ROW_COLUMNS[table] if c in have]
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {columns} FROM ({rows}) AS r"
    ).format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(picked),
        rows=sql.SQL(rows_sql),
    )
    return conn.execute(statement, params).rowcount


#: the columns payment_rows / billing_analytics_rows give, in order
ROW_COLUMNS = {
    "payments": ("id", "tenant_id", "subscription_id", "amount", "billing_period_start"),
    "billing_analytics": ("id", "tenant_id", "subscription_id", "period_start", "emails_sent"),
}


def load_demo(
    conn: Connection,
    *,
    tenants: int,
    seed: int = 42,
    today: date | None = None,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Load the fleet in one transaction: all of it or nothing."""
    if tenants < 1:
        raise UserError(f"--tenants must be at least 1, got {tenants}")
    today = today or datetime.now(UTC).date()
    step = progress or (lambda _msg: None)
    sql = queries("tenantcost.demo")
    with conn.transaction():
        existing = conn.execute("SELECT count(*) AS n FROM companies").fetchone()
        if existing and existing["n"] and not replace:
            raise UserError(
                f"the database already has {existing['n']} companies",
                "pass --replace to delete them and load the demo fleet (destroys that data)",
            )
        if replace:
            conn.execute(sql["truncate_business_tables"])
        step("generating fleet")
        rows, summary = generate(tenants, seed, today)
        with conn.cursor() as cur:
            for attr, copy_sql in COPIES:
                step(f"loading {attr}")
                with cur.copy(copy_sql) as copy:
                    for row in getattr(rows, attr):
                        copy.write_row(row)
        step("generating 12 months of payments")
        params = {
            "seed": seed,
            "today": today,
            "plan_names": [p.name for p in PLANS],
            "per_day": [p.emails_per_day for p in PLANS],
        }
        summary.payments = insert_rows(conn, "payments", sql["payment_rows"], params)
        step("generating 365 days of billing analytics")
        summary.analytics_rows = insert_rows(
            conn, "billing_analytics", sql["billing_analytics_rows"], params
        )
        conn.execute("ANALYZE")
    return summary
