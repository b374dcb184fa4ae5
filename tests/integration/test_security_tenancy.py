"""The second door: a tenant session cannot choose its tenant; tenants cannot touch finance
columns; every cost change is audited once. All as plain LOGIN roles."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from tenantcost.cli import app as cli
from tenantcost.config import get_settings
from tenantcost.costs.store import clear_override, override_cost, set_setting
from tenantcost.db.connect import connect
from tenantcost.db.tenancy import set_tenant, tenant_token
from tests.integration.tenants import (
    NAME_A,
    TENANT_A,
    TENANT_B,
    login_role,
    refresh,
    seed_two_tenants,
    tenant_key,
)

pytestmark = pytest.mark.db

TABLES = (
    "companies",
    "subscriptions",
    "payments",
    "billing_analytics",
    "vps_instances",
    "smtp_ip_addresses",
    "tenant_business_rollup",
    "tenant_cost_allocation_rollup",
)


@pytest.fixture
def db(migrated_url: str) -> str:
    seed_two_tenants(migrated_url)
    refresh(migrated_url)
    return migrated_url


@pytest.fixture
def key(db: str) -> bytes:
    return tenant_key(db)


@pytest.fixture
def app(admin_url: str, db: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(login_role(admin_url, db, "application_service"), autocommit=True) as c:
        yield c


def visible(conn: psycopg.Connection[Any]) -> dict[str, int]:
    counts = {}
    for table in TABLES:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        counts[table] = int(row[0])
    return counts


NOTHING = dict.fromkeys(TABLES, 0)
ONE_EACH = dict.fromkeys(TABLES, 1)


def set_raw(conn: psycopg.Connection[Any], value: str) -> None:
    conn.execute("SELECT set_config('app.current_tenant_id', %s, false)", (value,))


# ---- the signed tenant ---------------------------------------------------------------------


def test_a_properly_signed_tenant_sees_its_own_rows_only(
    app: psycopg.Connection[Any], key: bytes
) -> None:
    set_tenant(app, key, TENANT_A, local=False)
    assert visible(app) == ONE_EACH
    assert app.execute("SELECT id, name FROM companies").fetchall() == [(TENANT_A, NAME_A)]
    rows = app.execute("SELECT tenant_id FROM tenant_business_rollup").fetchall()
    assert rows == [(TENANT_A,)]
    set_tenant(app, key, TENANT_B, local=False)
    assert app.execute("SELECT id FROM companies").fetchall() == [(TENANT_B,)]


def test_unsigned_and_forged_values_see_nothing(app: psycopg.Connection[Any], key: bytes) -> None:
    pid = app.info.backend_pid
    good = tenant_token(key, TENANT_A, pid)
    message, _, signature = good.rpartition(".")
    candidates = {
        "bare uuid (the old way)": str(TENANT_A),
        "bare uuid of B": str(TENANT_B),
        "signed with another key": tenant_token(secrets.token_bytes(32), TENANT_A, pid),
        "A's signature on B's id": good.replace(str(TENANT_A), str(TENANT_B)),
        "later expiry, same signature": message.replace(
            f".{message.split('.')[2]}.", f".{int(message.split('.')[2]) + 9999}."
        )
        + "."
        + signature,
        "truncated signature": good[:-2],
        "upper-case signature": f"{message}.{signature.upper()}",
        "no signature": message,
        "garbage": "v1.x.y.z.w",
    }
    for what, value in candidates.items():
        set_raw(app, value)
        assert app.execute("SELECT tenantcost_current_tenant()").fetchone() == (None,), what
        assert visible(app) == NOTHING, what
    set_raw(app, good)
    assert visible(app) == ONE_EACH


def test_an_expired_token_sees_nothing(app: psycopg.Connection[Any], key: bytes) -> None:
    pid = app.info.backend_pid
    set_raw(app, tenant_token(key, TENANT_A, pid, ttl_seconds=60, now=time.time() - 120))
    assert visible(app) == NOTHING
    set_raw(app, tenant_token(key, TENANT_A, pid, ttl_seconds=60))
    assert visible(app) == ONE_EACH


def test_a_token_is_bound_to_its_backend(
    admin_url: str, db: str, app: psycopg.Connection[Any], key: bytes
) -> None:
    """A token read from pg_stat_activity is useless in another session."""
    with psycopg.connect(login_role(admin_url, db, "application_service")) as other:
        stolen = tenant_token(key, TENANT_B, other.info.backend_pid)
    set_raw(app, stolen)
    assert visible(app) == NOTHING


def test_set_local_does_not_outlive_the_transaction(
    app: psycopg.Connection[Any], key: bytes
) -> None:
    with app.transaction():
        set_tenant(app, key, TENANT_A)
        assert visible(app)["companies"] == 1
    assert visible(app) == NOTHING


def test_the_tenant_session_cannot_read_or_replace_the_key(
    app: psycopg.Connection[Any],
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("SELECT key FROM tenantcost_tenant_key")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("SELECT tenantcost_set_tenant_key(%s)", (bytes(32),))


def test_rotating_the_key_invalidates_old_tokens(
    admin_url: str, db: str, app: psycopg.Connection[Any], key: bytes
) -> None:
    set_tenant(app, key, TENANT_A, local=False)
    assert visible(app)["companies"] == 1
    new_key = secrets.token_bytes(32)
    with psycopg.connect(login_role(admin_url, db, "db_administrators")) as dba:
        dba.execute("SELECT tenantcost_set_tenant_key(%s)", (new_key,))
    assert visible(app) == NOTHING
    set_tenant(app, new_key, TENANT_A, local=False)
    assert visible(app)["companies"] == 1


# ---- finance columns -------------------------------------------------------------------------


FINANCE_UPDATES = (
    "UPDATE vps_instances SET approximate_cost = 0",
    "UPDATE vps_instances SET cost_override = true",
    "UPDATE vps_instances SET cost_source = 'override'",
    "UPDATE vps_instances SET cost_updated_at = now()",
    "UPDATE vps_instances SET hostwinds_plan_id = 'cheap'",
    "UPDATE vps_instances SET hostwinds_service_id = 'x'",
    "UPDATE vps_instances SET billing_cycle = 'triennially'",
    "UPDATE vps_instances SET hostwinds_config = '{}'",
    "UPDATE smtp_ip_addresses SET approximate_cost = 0",
    "UPDATE smtp_ip_addresses SET cost_override = true",
    "UPDATE smtp_ip_addresses SET cost_source = 'override'",
    "INSERT INTO vps_instances (tenant_id, status, approximate_cost) "
    "VALUES ('00000000-0000-0000-0000-0000000000aa', 'active', 0)",
    "INSERT INTO payments (subscription_id, amount, billing_period_start) "
    "SELECT id, 1000, now() FROM subscriptions",
    "UPDATE payments SET amount = 0",
    "DELETE FROM payments",
)


def test_the_tenant_cannot_write_finance_columns_or_payments(
    app: psycopg.Connection[Any], key: bytes
) -> None:
    set_tenant(app, key, TENANT_A, local=False)
    for statement in FINANCE_UPDATES:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute(statement)
    # Its own operational columns stay writable, and payments readable.
    assert app.execute("UPDATE vps_instances SET name = 'mine'").rowcount == 1
    new = app.execute(
        "INSERT INTO vps_instances (tenant_id, status) VALUES (%s, 'active') "
        "RETURNING approximate_cost, cost_override",
        (TENANT_A,),
    ).fetchone()
    assert new == (Decimal("0.00"), False)
    assert visible(app)["payments"] == 1


# ---- the audit trigger -----------------------------------------------------------------------


def audit_rows(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT changed_by, entity, entity_id, old_value, new_value, source, reason "
            "FROM cost_audit ORDER BY id"
        ).fetchall()


def test_a_direct_sql_change_by_an_administrator_is_audited(admin_url: str, db: str) -> None:
    dba_url = login_role(admin_url, db, "db_administrators")
    dba_name = dba_url.split("//", 1)[1].split(":", 1)[0]
    before = audit_rows(db)
    with psycopg.connect(dba_url) as dba:
        vps = dba.execute(
            "UPDATE vps_instances SET approximate_cost = 12.34 WHERE tenant_id = %s RETURNING id",
            (TENANT_A,),
        ).fetchone()
        assert vps is not None
        dba.execute("UPDATE vps_instances SET name = 'renamed'")  # not a cost: no row
        dba.execute("UPDATE cost_settings SET value = '5.49' WHERE key = 'smtp_ip_monthly_cost'")
    new = audit_rows(db)[len(before) :]
    note = "changed outside tenantcost's audited commands"
    assert new == [
        (dba_name, "vps", str(vps[0]), "20.00", "12.34", "sql", note),
        (dba_name, "setting", "smtp_ip_monthly_cost", "4.99", "5.49", "sql", note),
    ]


def test_a_tenant_status_change_that_reprices_an_ip_is_audited(
    db: str, app: psycopg.Connection[Any], key: bytes
) -> None:
    """The IP pricing trigger changes the cost on the tenant's behalf: still audited."""
    with psycopg.connect(db) as owner:
        owner.execute(
            "UPDATE smtp_ip_addresses SET status = 'retired' WHERE vps_instance_id IN "
            "(SELECT id FROM vps_instances WHERE tenant_id = %s)",
            (TENANT_A,),
        )
        owner.execute(
            "ALTER TABLE smtp_ip_addresses DISABLE TRIGGER trg_smtp_ip_cost_audit"
        )  # set up a stale cost without an audit row
        owner.execute("UPDATE smtp_ip_addresses SET approximate_cost = 1.00")
        owner.execute("ALTER TABLE smtp_ip_addresses ENABLE TRIGGER trg_smtp_ip_cost_audit")
    before = len(audit_rows(db))
    set_tenant(app, key, TENANT_A, local=False)
    ip = app.execute("UPDATE smtp_ip_addresses SET status = 'active' RETURNING id").fetchone()
    assert ip is not None
    app_name = app.info.user
    new = audit_rows(db)[before:]
    assert [r[:6] for r in new] == [(app_name, "ip", str(ip[0]), "1.00", "4.99", "sql")]


def test_tenantcost_commands_are_audited_once_with_their_reason(db: str) -> None:
    conn = connect(db)
    try:
        vps = conn.execute(
            "SELECT id::text AS id FROM vps_instances WHERE tenant_id = %s", (TENANT_A,)
        ).fetchone()
        assert vps is not None
        conn.commit()
        before = len(audit_rows(db))
        override_cost(conn, "vps", vps["id"], "7.50", "contract price")
        clear_override(conn, "vps", vps["id"], "contract ended")
        set_setting(conn, "smtp_ip_monthly_cost", "5.00", "new baseline")
    finally:
        conn.close()
    new = [r[1:] for r in audit_rows(db)[before:]]
    ips = new[3:]
    assert new[:3] == [
        ("vps", vps["id"], "20.00", "7.50", "override", "contract price"),
        ("vps", vps["id"], "7.50", "7.50", "clear-override", "contract ended"),
        ("setting", "smtp_ip_monthly_cost", "4.99", "5.00", "finance", "new baseline"),
    ]
    # Two billable IPs (A's and B's) re-priced 4.99 -> 5.00, one row each.
    assert (
        sorted((r[0], r[2], r[3], r[4], r[5]) for r in ips)
        == [("ip", "4.99", "5.00", "setting", "smtp_ip_monthly_cost changed: new baseline")] * 2
    )


# ---- the operator's command ------------------------------------------------------------------


def test_tenant_key_command_prints_and_rotates_the_key(admin_url: str, use_database: str) -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["db", "tenant-key"])
    assert shown.exit_code == 0, shown.output
    assert bytes.fromhex(shown.stdout.strip()) == tenant_key(use_database)
    rotated = runner.invoke(cli, ["db", "tenant-key", "--rotate"])
    assert rotated.exit_code == 0, rotated.output
    new_hex = rotated.stdout.strip().splitlines()[-1]
    assert len(new_hex) == 64 and new_hex != shown.stdout.strip()
    assert bytes.fromhex(new_hex) == tenant_key(use_database)
    # What the command prints is what an application signs with.
    seed_two_tenants(use_database)
    with psycopg.connect(login_role(admin_url, use_database, "application_service")) as conn:
        set_tenant(conn, new_hex, TENANT_A, local=False)
        assert conn.execute("SELECT count(*) FROM companies").fetchone() == (1,)


def test_tenant_key_command_refuses_a_tenant_role(
    admin_url: str, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENANTCOST_DATABASE_URL", login_role(admin_url, db, "application_service"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["db", "tenant-key", "--rotate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "may not replace the tenant signing key" in result.output
    assert "Traceback" not in result.output
