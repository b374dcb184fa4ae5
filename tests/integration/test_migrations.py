"""Migrations against a real PostgreSQL: round trip, idempotency, adoption, failure, offline SQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tenantcost.db import migrate
from tenantcost.errors import UserError

pytestmark = pytest.mark.db


def scalar(url: str, sql: str, params: tuple[object, ...] = ()) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None


def column_exists(url: str, table: str, column: str) -> bool:
    return bool(
        scalar(
            url,
            "SELECT count(*) FROM information_schema.columns WHERE table_name=%s AND column_name=%s",
            (table, column),
        )
    )


def test_upgrade_downgrade_upgrade_round_trip(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    assert migrate.current_revision(empty_url) == migrate.head_revision()
    with psycopg.connect(empty_url) as conn:
        conn.execute("INSERT INTO vps_instances (status) VALUES ('active')")
        conn.execute("UPDATE vps_instances SET approximate_cost = 12.34")

    migrate.downgrade(empty_url, "base")
    assert migrate.current_revision(empty_url) is None
    # The seed's rollback keeps the column and its data; constraint and index are gone.
    assert scalar(empty_url, "SELECT approximate_cost FROM vps_instances") == Decimal("12.34")
    assert scalar(empty_url, "SELECT to_regclass('idx_vps_instances_approximate_cost')") is None
    assert not scalar(
        empty_url,
        "SELECT count(*) FROM pg_constraint WHERE conname = 'chk_vps_approximate_cost_positive'",
    )

    migrate.upgrade(empty_url)
    assert migrate.current_revision(empty_url) == migrate.head_revision()
    assert scalar(empty_url, "SELECT approximate_cost FROM vps_instances") == Decimal("12.34")


def test_a_key_value_connection_string_migrates_like_a_url(empty_url: str) -> None:
    """TENANTCOST_DATABASE_URL may be a key=value string (psycopg reads both, and the other
    commands take it): migrations connect through psycopg too, instead of SQLAlchemy's URL
    parser, which refused it with a traceback."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    key_value = make_conninfo(**conninfo_to_dict(empty_url))
    assert "://" not in key_value and "dbname=" in key_value
    migrate.upgrade(key_value, "0010")
    assert migrate.current_revision(key_value) == migrate.current_revision(empty_url) == "0010"
    migrate.downgrade(key_value, "base")
    assert migrate.current_revision(empty_url) is None


def test_downgrade_with_drop_data_removes_cost_columns(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    migrate.downgrade(empty_url, "base", drop_data=True)
    assert not column_exists(empty_url, "vps_instances", "approximate_cost")
    assert not column_exists(empty_url, "smtp_ip_addresses", "approximate_cost")
    # Business tables survive even --drop-data.
    assert scalar(empty_url, "SELECT to_regclass('vps_instances')") is not None


def test_steps_1_and_2_are_idempotent_on_existing_columns(empty_url: str) -> None:
    """A database that already ran the seed's ALTERs by hand upgrades without error."""
    migrate.upgrade(empty_url, "0001")
    with psycopg.connect(empty_url) as conn:
        conn.execute(
            "ALTER TABLE vps_instances ADD COLUMN approximate_cost DECIMAL(8,2) DEFAULT 0.00"
        )
        conn.execute(
            "ALTER TABLE vps_instances ADD CONSTRAINT chk_vps_approximate_cost_positive "
            "CHECK (approximate_cost >= 0)"
        )
        conn.execute(
            "ALTER TABLE smtp_ip_addresses ADD COLUMN approximate_cost DECIMAL(6,2) DEFAULT 0.00"
        )
    migrate.upgrade(empty_url)
    assert migrate.current_revision(empty_url) == migrate.head_revision()
    # Re-running the SQL of steps 1 and 2 on the finished schema is a no-op too.
    from tenantcost.db.migrations import read_sql

    with psycopg.connect(empty_url) as conn:
        conn.execute(read_sql("0002_vps_approximate_cost.up.sql"))
        conn.execute(read_sql("0004_smtp_ip_approximate_cost.up.sql"))
    assert (
        scalar(
            empty_url,
            "SELECT count(*) FROM pg_constraint WHERE conname = 'chk_vps_approximate_cost_positive'",
        )
        == 1
    )


PENGUINMAILS_SCHEMA = """
CREATE TABLE companies (id uuid PRIMARY KEY, name text NOT NULL, domain text, created_at timestamptz);
CREATE TABLE plans (id uuid PRIMARY KEY, name text, price_monthly numeric(10,2), features jsonb);
CREATE TABLE subscriptions (id uuid PRIMARY KEY, tenant_id uuid REFERENCES companies, plan_id uuid
    REFERENCES plans, status text, current_period_start timestamptz, current_period_end timestamptz,
    stripe_id text);
CREATE TABLE payments (id uuid PRIMARY KEY, subscription_id uuid, amount numeric(12,2),
    billing_period_start timestamptz, stripe_charge text);
CREATE TABLE billing_analytics (id uuid PRIMARY KEY, subscription_id uuid, period_start timestamptz,
    emails_sent bigint, bounces bigint);
CREATE TABLE vps_instances (id uuid PRIMARY KEY, status text, hostname text, region text);
CREATE TABLE smtp_ip_addresses (id uuid PRIMARY KEY, vps_instance_id uuid, status text, ip inet);
INSERT INTO companies VALUES ('00000000-0000-0000-0000-00000000000a', 'Acme', 'acme.test', now());
INSERT INTO vps_instances VALUES ('00000000-0000-0000-0000-0000000000b1', 'active', 'mx1', 'dal');
INSERT INTO smtp_ip_addresses VALUES
  ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000b1', 'active', '10.0.0.1'),
  ('00000000-0000-0000-0000-0000000000c2', '00000000-0000-0000-0000-0000000000b1', 'retired', '10.0.0.2');
"""


def test_adopts_existing_penguinmails_schema_without_losing_data(empty_url: str) -> None:
    with psycopg.connect(empty_url) as conn:
        conn.execute(PENGUINMAILS_SCHEMA)
    migrate.upgrade(empty_url)

    assert scalar(empty_url, "SELECT domain FROM companies") == "acme.test"
    assert scalar(empty_url, "SELECT hostname FROM vps_instances") == "mx1"
    assert (
        str(scalar(empty_url, "SELECT ip FROM smtp_ip_addresses WHERE status = 'retired'"))
        == "10.0.0.2"
    )
    assert column_exists(empty_url, "vps_instances", "tenant_id")
    # Existing billable IPs were priced with the $4.99 constant; the retired one was not.
    assert scalar(
        empty_url, "SELECT approximate_cost FROM smtp_ip_addresses WHERE status='active'"
    ) == (Decimal("4.99"))
    assert scalar(
        empty_url, "SELECT approximate_cost FROM smtp_ip_addresses WHERE status='retired'"
    ) == (Decimal("0.00"))
    # Rows written with the seed's columns alone stay valid.
    with psycopg.connect(empty_url) as conn:
        conn.execute("INSERT INTO vps_instances (id, status) VALUES (gen_random_uuid(), 'active')")


def test_existing_table_missing_a_seed_column_stops_with_a_clear_message(empty_url: str) -> None:
    with psycopg.connect(empty_url) as conn:
        conn.execute("CREATE TABLE plans (id uuid PRIMARY KEY, name text)")  # no price_monthly
    with pytest.raises(UserError, match=r"plans\.price_monthly"):
        migrate.upgrade(empty_url)
    # Nothing half-written: the failed baseline left no tables and no version behind.
    assert migrate.current_revision(empty_url) is None
    assert scalar(empty_url, "SELECT to_regclass('companies')") is None


def test_failed_revision_leaves_previous_revision_intact(empty_url: str) -> None:
    migrate.upgrade(empty_url, "0003")
    with psycopg.connect(empty_url) as conn:
        # A hand-made IP costing more than NUMERIC(6,2) allows breaks step 2.
        conn.execute("ALTER TABLE smtp_ip_addresses ADD COLUMN approximate_cost numeric")
        conn.execute("INSERT INTO smtp_ip_addresses (status, approximate_cost) VALUES ('x', -1)")
    with pytest.raises(UserError, match="rolled back"):
        migrate.upgrade(empty_url)
    assert migrate.current_revision(empty_url) == "0003"
    assert scalar(empty_url, "SELECT to_regclass('idx_smtp_ip_addresses_approximate_cost')") is None


def test_offline_sql_is_reviewable_and_touches_nothing() -> None:
    sql = migrate.offline_sql()
    assert "ADD COLUMN IF NOT EXISTS approximate_cost DECIMAL(8,2) DEFAULT 0.00" in sql
    assert "CREATE INDEX IF NOT EXISTS idx_smtp_ip_addresses_approximate_cost" in sql
    assert "CREATE POLICY tenant_isolation" in sql
    assert "%%" not in sql  # no driver escaping: the DBA runs exactly this
    assert sql.rstrip().endswith("COMMIT;")
    down = migrate.offline_sql("head", downgrade_to="base")
    assert "DROP INDEX IF EXISTS idx_vps_instances_approximate_cost" in down
    assert "DROP COLUMN IF EXISTS approximate_cost" not in down


def test_a_report_on_a_database_left_at_an_older_revision_says_to_upgrade(
    empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tenantcost newer than its database (a package upgrade without `db upgrade`): one
    message naming the fix, exit code 2, no traceback (`report health` reached the missing
    function `tenantcost_latest_period()` and printed psycopg's traceback)."""
    from typer.testing import CliRunner

    from tenantcost.cli import app
    from tenantcost.config import get_settings

    migrate.upgrade(empty_url, "0009")
    monkeypatch.setenv("TENANTCOST_DATABASE_URL", empty_url)
    get_settings.cache_clear()
    try:
        for command in (["report", "health"], ["report", "tenant-costs"]):
            result = CliRunner().invoke(app, command)
            assert result.exit_code == 2, (command, result.output)
            assert "Traceback" not in result.output
            assert "lacks part of tenantcost's schema" in result.output
            assert "tenantcost db upgrade" in result.output
    finally:
        get_settings.cache_clear()


def test_a_running_embedded_server_is_not_connected_to_twice_and_its_database_comes_back(
    pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command asks the embedded server for its URL: found running, it is not connected
    to a second time to check its database (one connection per command, not two); when the
    database was dropped by hand, connecting says `tenantcost db start`, which creates it."""
    from tenantcost.config import get_settings
    from tenantcost.db.connect import connect

    checks: list[object] = []
    real = pg_server._ensure_database
    monkeypatch.setattr(pg_server, "_ensure_database", checks.append)
    assert pg_server.start() == pg_server.url()
    assert checks == []  # found running: no check
    monkeypatch.setattr(pg_server, "_ensure_database", real)

    with psycopg.connect(pg_server.url("postgres"), autocommit=True) as admin:
        admin.execute('DROP DATABASE IF EXISTS "tenantcost" WITH (FORCE)')
    monkeypatch.setenv("TENANTCOST_DATA_DIR", str(pg_server.data_dir))
    monkeypatch.delenv("TENANTCOST_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(UserError) as refused:
            connect()
        assert "does not exist" in refused.value.message
        assert refused.value.hint is not None and "tenantcost db start" in refused.value.hint
        pg_server.start(ensure_database=True)  # what `tenantcost db start` does
        with connect() as conn:
            assert conn.execute("SELECT current_database() AS db").fetchone() == {
                "db": "tenantcost"
            }
    finally:
        get_settings.cache_clear()


def test_installs_into_an_application_keyed_by_tenant_and_counts_orphans(empty_url: str) -> None:
    """The application's shape before it moves to Citus, on plain PostgreSQL: subscriptions
    keyed by (tenant_id, id), payments and analytics carrying tenant_id. tenantcost installs
    (no foreign key can reference subscriptions(id) alone, so its add-ons and terms carry
    none) and `db verify` counts the rows a deleted subscription leaves behind."""
    from tenantcost.db.connect import connect
    from tenantcost.verification import run_all
    from tests.integration.app_shape import ACME, APP_ROWS, SUB_A, local_schema

    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute(local_schema())
        conn.execute(APP_ROWS)
    migrate.upgrade(empty_url)
    assert migrate.current_revision(empty_url) == migrate.head_revision()
    name = "no orphaned rows (no key to subscriptions)"
    checks = {c.check: c for c in run_all(empty_url)}
    assert checks[name].status == "PASS", checks[name]
    with connect(empty_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO subscription_addons (subscription_id, addon, quantity) "
            "VALUES (%s, 'priority_support', 1)",
            (SUB_A,),
        )
        conn.execute("DELETE FROM payments WHERE subscription_id = %s", (SUB_A,))
        conn.execute("DELETE FROM billing_analytics WHERE subscription_id = %s", (SUB_A,))
        conn.execute("DELETE FROM subscriptions WHERE id = %s AND tenant_id = %s", (SUB_A, ACME))
    orphans = {c.check: c for c in run_all(empty_url)}[name]
    assert orphans.status == "FAIL"
    assert "subscription_addons: 1 row(s)" in orphans.detail


def test_the_demo_fleet_loads_into_an_application_keyed_by_tenant(empty_url: str) -> None:
    """The application's Citus shape on PostgreSQL (payments and analytics carrying tenant_id,
    their ids without a default): the demo fleet fills tenant_id from the subscription."""
    from tests.integration.app_shape import load_demo_into, local_schema

    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute(local_schema())
    load_demo_into(empty_url)


def test_the_worker_sources_go_on_downgrade_unless_evidence_still_names_them(
    empty_url: str,
) -> None:
    migrate.upgrade(empty_url)
    with psycopg.connect(empty_url) as conn:
        conn.execute(
            "INSERT INTO tenant_usage_daily (day, tenant_id, metric, source, quantity, peak,"
            " last_hour, last_quantity, hours) VALUES (current_date,"
            " '00000000-0000-0000-0000-000000000000', 'compute_seconds', 'citus_worker_kcache',"
            " 1.5, 0.5, 23, 0.5, 3)"
        )
    migrate.downgrade(empty_url, "0027")
    with psycopg.connect(empty_url) as conn:
        left = conn.execute(
            "SELECT metric, source FROM telemetry_metrics WHERE source IN"
            " ('citus_worker_kcache', 'citus_worker_statements', 'citus_cluster_sampler')"
        ).fetchall()
    assert left == [("compute_seconds", "citus_worker_kcache")]  # the evidence keeps its row
    migrate.upgrade(empty_url)  # and up again: the rows come back in place
    assert (
        scalar(
            empty_url,
            "SELECT count(*) FROM telemetry_metrics WHERE source = 'citus_worker_statements'",
        )
        == 7
    )
