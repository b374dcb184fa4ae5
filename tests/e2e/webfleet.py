"""A tiny fleet whose dashboard figures are worked out by hand, and dashboard users.

Plans: Basic $100.00/month, Free $0.00. Tenants (active subscriptions):
  Acme   (Basic): own VPS $30.00 active, one IP on it (priced by the constant, $4.99)
  Bolt   (Basic): own VPS $10.00 active, no IPs
  Cirrus (Free):  one IP of its own, no VPS ($4.99)
Shared: one active VPS with no tenant, $20.00 (rule none: charged to nobody).
An inactive VPS of Acme ($99.00, stopped) must count nowhere.

The figures are November 2025's, attributed as of 2025-12-01 01:00 UTC: covered to the end of
the month (fixed costs and revenue count in full), provisional.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from tenantcost.attribution.ledger import attribute_period
from tenantcost.db.connect import connect
from tenantcost.telemetry.timeutil import month_period
from tenantcost.web.users import add_user

ACME = uuid.UUID("00000000-0000-4000-8000-00000000000a")
BOLT = uuid.UUID("00000000-0000-4000-8000-00000000000b")
CIRRUS = uuid.UUID("00000000-0000-4000-8000-00000000000c")
PASSWORDS = {
    "exec": "executive-password",
    "ana": "analyst-password",
    "dee": "dba-password-123",
}
ROLES = {"exec": "executive", "ana": "analyst", "dee": "dba"}
MONTH = "2025-11"
AS_OF = datetime(2025, 12, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Fleet:
    url: str
    tokens: dict[str, str]  # user name -> API token
    acme_ip: str


def load_small_fleet(url: str) -> Fleet:
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        basic = conn.execute(
            "INSERT INTO plans (name, price_monthly) VALUES ('Basic', 100.00) RETURNING id"
        ).fetchone()
        free = conn.execute(
            "INSERT INTO plans (name, price_monthly) VALUES ('Free', 0.00) RETURNING id"
        ).fetchone()
        assert basic and free
        for tenant, name, plan in (
            (ACME, "Acme", basic[0]),
            (BOLT, "Bolt", basic[0]),
            (CIRRUS, "Cirrus", free[0]),
        ):
            conn.execute("INSERT INTO companies (id, name) VALUES (%s, %s)", (tenant, name))
            conn.execute(
                "INSERT INTO subscriptions (tenant_id, plan_id, status, current_period_start, "
                "current_period_end) VALUES (%s, %s, 'active', %s, %s)",
                (tenant, plan, now - timedelta(days=10), now + timedelta(days=20)),
            )
        vps = conn.execute(
            "INSERT INTO vps_instances (name, status, approximate_cost, tenant_id) "
            "VALUES ('acme-1', 'active', 30.00, %s) RETURNING id",
            (ACME,),
        ).fetchone()
        assert vps
        conn.execute(
            "INSERT INTO vps_instances (name, status, approximate_cost, tenant_id) VALUES "
            "('bolt-1', 'active', 10.00, %s), ('shared-1', 'active', 20.00, NULL), "
            "('acme-old', 'stopped', 99.00, %s)",
            (BOLT, ACME),
        )
        ip = conn.execute(
            "INSERT INTO smtp_ip_addresses (vps_instance_id, ip_address, status) "
            "VALUES (%s, '192.0.2.1', 'active') RETURNING id",
            (vps[0],),
        ).fetchone()
        assert ip
        conn.execute(
            "INSERT INTO smtp_ip_addresses (tenant_id, ip_address, status) "
            "VALUES (%s, '192.0.2.2', 'active')",
            (CIRRUS,),
        )
    tokens = {}
    with connect(url) as conn:
        attribute_period(conn, month_period(MONTH), as_of=AS_OF)
        for name, role in ROLES.items():
            user = add_user(conn, name, role, password=PASSWORDS[name], token=True)
            assert user.token
            tokens[name] = user.token
    return Fleet(url, tokens, str(ip[0]))


@contextmanager
def token_client(fleet: Fleet, name: str = "ana") -> Iterator[httpx.Client]:
    """A real dashboard server for the fleet on 127.0.0.1 and an HTTP client that sends
    ``name``'s API token."""
    from tenantcost.web.serve import running_server

    headers = {"Authorization": f"Bearer {fleet.tokens[name]}"}
    with (
        running_server(fleet.url) as base,
        httpx.Client(base_url=base, headers=headers, timeout=30) as client,
    ):
        yield client
