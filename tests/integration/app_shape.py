"""The application's rows in its Citus shape (the schema is ``tenantcost.demo.app_shape``) and
the demo fleet loaded into it: shared by the Citus tests and the plain-PostgreSQL tests of the
same shape."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from tenantcost.db import migrate
from tenantcost.db.connect import connect
from tenantcost.demo.app_shape import APP_SCHEMA, local_schema

__all__ = ["APP_SCHEMA", "local_schema"]

ACME, BETA = uuid.UUID(int=0xA1), uuid.UUID(int=0xB2)
PRO, SUB_A, SUB_B = uuid.UUID(int=0xC1), uuid.UUID(int=0xD1), uuid.UUID(int=0xD2)
VPS_A, VPS_SHARED, IP_A = uuid.UUID(int=0xE1), uuid.UUID(int=0xE2), uuid.UUID(int=0xF1)
APP_ROWS = f"""
INSERT INTO companies VALUES ('{ACME}', 'Acme'), ('{BETA}', 'Beta');
INSERT INTO plans VALUES ('{PRO}', 'Pro', 25.00);
INSERT INTO subscriptions VALUES
    ('{SUB_A}', '{ACME}', '{PRO}', 'active', date_trunc('month', now(), 'UTC'),
     date_trunc('month', now(), 'UTC') + interval '1 month'),
    ('{SUB_B}', '{BETA}', '{PRO}', 'active', date_trunc('month', now(), 'UTC'),
     date_trunc('month', now(), 'UTC') + interval '1 month');
INSERT INTO payments VALUES
    (gen_random_uuid(), '{ACME}', '{SUB_A}', 25.00, date_trunc('month', now(), 'UTC'));
INSERT INTO billing_analytics (id, tenant_id, subscription_id, period_start, emails_sent)
    VALUES (gen_random_uuid(), '{ACME}', '{SUB_A}', now(), 1000);
INSERT INTO vps_instances (id, name, status) VALUES ('{VPS_A}', 'a', 'active'),
                                                    ('{VPS_SHARED}', 'shared', 'active');
INSERT INTO smtp_ip_addresses (id, vps_instance_id, ip_address, status)
    VALUES ('{IP_A}', '{VPS_A}', '192.0.2.1', 'active');
"""


def own_and_price_the_vps(url: str) -> None:
    """Acme owns its VPS (10.00 a month); the shared one costs 20.00: the columns tenantcost's
    first revisions add, filled as an operator would after `db upgrade`."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE vps_instances SET tenant_id = %s, approximate_cost = 10.00 WHERE id = %s",
            (ACME, VPS_A),
        )
        conn.execute(
            "UPDATE vps_instances SET approximate_cost = 20.00 WHERE id = %s", (VPS_SHARED,)
        )


def load_demo_into(url: str) -> dict[str, int]:
    """The demo fleet loaded into the application's shape at ``url`` (tenantcost installed):
    its payments and analytics carry their subscription's tenant."""
    from tenantcost.demo.fleet import load_demo

    migrate.upgrade(url)
    with connect(url) as conn:
        summary = load_demo(conn, tenants=20, seed=7)
        conn.commit()
    totals: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        for table in ("payments", "billing_analytics"):
            # each row joined to its subscription on the tenant too (co-located on Citus)
            row: Any = conn.execute(
                f"SELECT (SELECT count(*) FROM {table}),"
                f"       (SELECT count(*) FROM {table} x JOIN subscriptions s"
                "          ON s.id = x.subscription_id AND s.tenant_id = x.tenant_id)"
            ).fetchone()
            total, with_its_tenant = row
            assert total == with_its_tenant > 0, table
            totals[table] = total
    assert totals == {"payments": summary.payments, "billing_analytics": summary.analytics_rows}
    return totals
