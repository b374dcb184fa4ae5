"""Two tenants, plain LOGIN roles and signed tenant sessions, shared by the security tests."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from tenantcost.db.connect import connect
from tenantcost.db.tenancy import set_tenant
from tenantcost.report import refresh_rollups

TENANT_A = uuid.UUID("00000000-0000-0000-0000-0000000000aa")
TENANT_B = uuid.UUID("00000000-0000-0000-0000-0000000000bb")
NAME_A = "Alpha-Own-Company"
NAME_B = "Bravo-Foreign-Company"


def seed_two_tenants(url: str) -> None:
    """A and B: a company, an active subscription, a payment, analytics, a VPS and its IP
    each; plus one shared VPS (tenant_id NULL)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO plans (id, name, price_monthly) VALUES (gen_random_uuid(), 'Pro', 99)"
        )
        for tenant, name in ((TENANT_A, NAME_A), (TENANT_B, NAME_B)):
            conn.execute("INSERT INTO companies (id, name) VALUES (%s, %s)", (tenant, name))
            sub = conn.execute(
                "INSERT INTO subscriptions (tenant_id, plan_id, status, current_period_start, "
                "current_period_end) SELECT %s, id, 'active', now(), now() + interval '1 month' "
                "FROM plans RETURNING id",
                (tenant,),
            ).fetchone()
            assert sub is not None
            conn.execute(
                "INSERT INTO payments (subscription_id, amount, billing_period_start) "
                "VALUES (%s, 99, now())",
                (sub[0],),
            )
            conn.execute(
                "INSERT INTO billing_analytics (subscription_id, period_start, emails_sent) "
                "VALUES (%s, now(), 1000)",
                (sub[0],),
            )
            vps = conn.execute(
                "INSERT INTO vps_instances (tenant_id, status, approximate_cost) "
                "VALUES (%s, 'active', 20.00) RETURNING id",
                (tenant,),
            ).fetchone()
            assert vps is not None
            conn.execute(
                "INSERT INTO smtp_ip_addresses (vps_instance_id, status) VALUES (%s, 'active')",
                (vps[0],),
            )
        conn.execute(
            "INSERT INTO vps_instances (tenant_id, status, approximate_cost) "
            "VALUES (NULL, 'active', 30.00)"
        )


def refresh(url: str) -> None:
    """Recompute what the tenant-facing figures read (as the owner)."""
    conn = connect(url)
    try:
        refresh_rollups(conn)
        conn.commit()
    finally:
        conn.close()


def login_role(admin_url: str, db_url: str, member_of: str) -> str:
    """A plain LOGIN role (no superuser, not the owner) that is a member of ``member_of``."""
    name = f"u_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw' IN ROLE {member_of}")
    host = db_url.split("@", 1)[1]
    return f"postgresql://{name}:pw@{host}"


def tenant_key(owner_url: str) -> bytes:
    """The database's tenant signing key, read as its owner (what the operator hands the app)."""
    with psycopg.connect(owner_url) as conn:
        row = conn.execute("SELECT key FROM tenantcost_tenant_key").fetchone()
    assert row is not None
    return bytes(row[0])


def act_as(conn: psycopg.Connection[Any], key: bytes, tenant: uuid.UUID) -> None:
    """Set a properly signed tenant for the rest of the session."""
    set_tenant(conn, key, tenant, local=False)
