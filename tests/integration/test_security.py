"""Row-level tenant isolation, exercised as plain LOGIN roles (superusers bypass RLS)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.db

TENANT_A = uuid.UUID("00000000-0000-0000-0000-0000000000aa")
TENANT_B = uuid.UUID("00000000-0000-0000-0000-0000000000bb")


def seed_two_tenants(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO plans (id, name, price_monthly) VALUES (gen_random_uuid(), 'Pro', 99)"
        )
        for tenant, name in ((TENANT_A, "A"), (TENANT_B, "B")):
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
            vps = conn.execute(
                "INSERT INTO vps_instances (tenant_id, status) VALUES (%s, 'active') RETURNING id",
                (tenant,),
            ).fetchone()
            assert vps is not None
            conn.execute(
                "INSERT INTO smtp_ip_addresses (vps_instance_id, status) VALUES (%s, 'active')",
                (vps[0],),
            )
        conn.execute("INSERT INTO vps_instances (tenant_id, status) VALUES (NULL, 'active')")


def login_role(admin_url: str, db_url: str, member_of: str) -> str:
    """A plain LOGIN role (no superuser, not the owner) that is a member of ``member_of``."""
    name = f"u_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw' IN ROLE {member_of}")
    host = db_url.split("@", 1)[1]
    return f"postgresql://{name}:pw@{host}"


@pytest.fixture
def two_tenants(migrated_url: str) -> str:
    seed_two_tenants(migrated_url)
    return migrated_url


@pytest.fixture
def app_conn(admin_url: str, two_tenants: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(login_role(admin_url, two_tenants, "application_service")) as conn:
        yield conn


def count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


TABLES = ("companies", "subscriptions", "payments", "vps_instances", "smtp_ip_addresses")


def test_application_service_sees_only_its_tenant(app_conn: psycopg.Connection[Any]) -> None:
    app_conn.execute("SELECT set_config('app.current_tenant_id', %s, false)", (str(TENANT_A),))
    for table in TABLES:
        assert count(app_conn, table) == 1, table
    row = app_conn.execute("SELECT name FROM companies").fetchone()
    assert row == ("A",)
    tenants = app_conn.execute("SELECT DISTINCT tenant_id FROM vps_instances").fetchall()
    assert tenants == [(TENANT_A,)]  # tenant B's VPS and the shared VPS are invisible


def test_without_tenant_setting_nothing_is_visible(app_conn: psycopg.Connection[Any]) -> None:
    for table in TABLES:
        assert count(app_conn, table) == 0, table
    # An empty setting (e.g. after RESET in a pooled connection) behaves the same.
    app_conn.execute("SELECT set_config('app.current_tenant_id', '', false)")
    assert count(app_conn, "companies") == 0


def test_cannot_write_other_tenants_rows(app_conn: psycopg.Connection[Any]) -> None:
    app_conn.execute("SELECT set_config('app.current_tenant_id', %s, false)", (str(TENANT_A),))
    # UPDATE/DELETE of B's rows silently match nothing: they are not visible.
    assert (
        app_conn.execute("UPDATE companies SET name = 'pwned' WHERE id = %s", (TENANT_B,)).rowcount
        == 0
    )
    assert (
        app_conn.execute("DELETE FROM vps_instances WHERE tenant_id = %s", (TENANT_B,)).rowcount
        == 0
    )
    # INSERTing a row for B violates the policy's WITH CHECK.
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        app_conn.execute(
            "INSERT INTO vps_instances (tenant_id, status) VALUES (%s, 'active')", (TENANT_B,)
        )


def test_internal_roles_see_every_tenant(admin_url: str, two_tenants: str) -> None:
    with psycopg.connect(login_role(admin_url, two_tenants, "business_analysts")) as conn:
        assert count(conn, "companies") == 2
        assert count(conn, "vps_instances") == 3  # A, B and the shared one
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE companies SET name = 'x'")
    with psycopg.connect(login_role(admin_url, two_tenants, "db_administrators")) as conn:
        assert count(conn, "smtp_ip_addresses") == 2
        assert conn.execute("UPDATE companies SET name = name").rowcount == 2


def test_an_ip_dedicated_to_b_on_as_vps_belongs_to_b(admin_url: str, two_tenants: str) -> None:
    """An IP's own tenant_id wins over its VPS's owner (the views' ownership rule)."""
    with psycopg.connect(two_tenants) as conn:
        conn.execute(
            "INSERT INTO smtp_ip_addresses (vps_instance_id, tenant_id, status) "
            "SELECT id, %s, 'active' FROM vps_instances WHERE tenant_id = %s",
            (TENANT_B, TENANT_A),
        )
    with psycopg.connect(login_role(admin_url, two_tenants, "application_service")) as conn:
        conn.execute("SELECT set_config('app.current_tenant_id', %s, false)", (str(TENANT_A),))
        assert count(conn, "smtp_ip_addresses") == 1  # only A's own IP
        conn.execute("SELECT set_config('app.current_tenant_id', %s, false)", (str(TENANT_B),))
        assert count(conn, "smtp_ip_addresses") == 2  # B's IP on its VPS + B's IP on A's VPS
