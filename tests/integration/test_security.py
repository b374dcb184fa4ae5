"""Row-level tenant isolation, exercised as plain LOGIN roles (superusers bypass RLS)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.integration.tenants import (
    NAME_A,
    TENANT_A,
    TENANT_B,
    act_as,
    login_role,
    seed_two_tenants,
    tenant_key,
)

pytestmark = pytest.mark.db


@pytest.fixture
def two_tenants(migrated_url: str) -> str:
    seed_two_tenants(migrated_url)
    return migrated_url


@pytest.fixture
def key(two_tenants: str) -> bytes:
    return tenant_key(two_tenants)


@pytest.fixture
def app_conn(admin_url: str, two_tenants: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(login_role(admin_url, two_tenants, "application_service")) as conn:
        yield conn


def count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


TABLES = ("companies", "subscriptions", "payments", "vps_instances", "smtp_ip_addresses")


def test_application_service_sees_only_its_tenant(
    app_conn: psycopg.Connection[Any], key: bytes
) -> None:
    act_as(app_conn, key, TENANT_A)
    for table in TABLES:
        assert count(app_conn, table) == 1, table
    row = app_conn.execute("SELECT name FROM companies").fetchone()
    assert row == (NAME_A,)
    tenants = app_conn.execute("SELECT DISTINCT tenant_id FROM vps_instances").fetchall()
    assert tenants == [(TENANT_A,)]  # tenant B's VPS and the shared VPS are invisible


def test_without_tenant_setting_nothing_is_visible(app_conn: psycopg.Connection[Any]) -> None:
    for table in TABLES:
        assert count(app_conn, table) == 0, table
    # An empty setting (e.g. after RESET in a pooled connection) behaves the same.
    app_conn.execute("SELECT set_config('app.current_tenant_id', '', false)")
    assert count(app_conn, "companies") == 0


def test_cannot_write_other_tenants_rows(app_conn: psycopg.Connection[Any], key: bytes) -> None:
    act_as(app_conn, key, TENANT_A)
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
        key = tenant_key(two_tenants)
        act_as(conn, key, TENANT_A)
        assert count(conn, "smtp_ip_addresses") == 1  # only A's own IP
        act_as(conn, key, TENANT_B)
        assert count(conn, "smtp_ip_addresses") == 2  # B's IP on its VPS + B's IP on A's VPS
