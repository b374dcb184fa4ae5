"""``db distribute`` and migrations on a real Citus cluster (coordinator + workers).

Set TENANTCOST_TEST_CITUS_URL to a database on a Citus coordinator whose workers are added
(``citus_add_node``); each test makes its own database on the coordinator and every worker.
Without it only the tests at the bottom run (on the embedded PostgreSQL, which has no Citus).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

from tenantcost.cli import app
from tenantcost.config import Settings, get_settings
from tenantcost.costs.store import clear_override, override_cost, set_setting
from tenantcost.db import migrate
from tenantcost.db.citus import check_install, check_placement
from tenantcost.db.connect import connect
from tenantcost.db.tenancy import read_key, set_tenant, tenant_token
from tenantcost.telemetry.collector import Collector
from tenantcost.telemetry.sampler import start_sampler
from tenantcost.web import focus
from tests import pg15
from tests.integration.app_shape import (
    ACME,
    APP_ROWS,
    APP_SCHEMA,
    BETA,
    IP_A,
    PRO,
    SUB_A,
    SUB_B,
    VPS_A,
    VPS_SHARED,
    load_demo_into,
    local_schema,
    own_and_price_the_vps,
)

pytestmark = pytest.mark.db
CITUS_URL = os.environ.get("TENANTCOST_TEST_CITUS_URL")
needs_citus = pytest.mark.skipif(
    not CITUS_URL,
    reason="TENANTCOST_TEST_CITUS_URL is not set: point it at a Citus coordinator with its "
    "workers added to run the Citus tests (docs/citus.md)",
)


def _on(url: str, *, host: str | None = None, port: int | None = None, dbname: str = "") -> str:
    """The same URL (user, password) on another node or database."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if host is not None:
        credentials = netloc.rpartition("@")[0]
        netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    path = f"/{dbname}" if dbname else parts.path
    return urlunsplit(parts._replace(netloc=netloc, path=path))


@contextmanager
def app_login(citus_url: str) -> Iterator[str]:
    """A URL for a plain LOGIN member of ``application_service`` (roles are cluster-wide:
    Citus creates it on the workers too), dropped afterwards."""
    role = f"tc_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'app' IN ROLE application_service")
    parts = urlsplit(citus_url)
    try:
        yield urlunsplit(parts._replace(netloc=f"{role}:app@{parts.netloc.rpartition('@')[2]}"))
    finally:
        with psycopg.connect(citus_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


@pytest.fixture
def citus_url() -> Iterator[str]:
    """A new database on the coordinator and on every worker, with the workers added."""
    assert CITUS_URL is not None
    name = f"tc_citus_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(CITUS_URL, autocommit=True) as conn:
        workers = conn.execute("SELECT * FROM citus_get_active_worker_nodes()").fetchall()
        coordinator = conn.execute(
            "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid = 0"
        ).fetchone()
    assert workers, "the coordinator behind TENANTCOST_TEST_CITUS_URL has no workers"
    nodes = [CITUS_URL] + [_on(CITUS_URL, host=h, port=p) for h, p in workers]
    for node in nodes:
        with psycopg.connect(node, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        with psycopg.connect(_on(node, dbname=name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION citus")
    url = _on(CITUS_URL, dbname=name)
    with psycopg.connect(url, autocommit=True) as conn:
        if coordinator:
            conn.execute("SELECT citus_set_coordinator_host(%s, %s)", coordinator)
        for host, port in workers:
            conn.execute("SELECT citus_add_node(%s, %s)", (host, port))
    yield url
    for node in nodes:
        with psycopg.connect(node, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _cli(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("TENANTCOST_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", *args], env={"COLUMNS": "200"})
    finally:
        get_settings.cache_clear()
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def _placements(url: str) -> dict[str, tuple[str, str | None, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT logicalrelid::text, partmethod, "
            "CASE WHEN partmethod = 'h' THEN column_to_column_name(logicalrelid, partkey) END, "
            "colocationid FROM pg_dist_partition"
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _tenantcost(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    """Any tenantcost command against ``url``: exit code and stdout (``_cli`` is ``db …``)."""
    monkeypatch.setenv("TENANTCOST_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    finally:
        get_settings.cache_clear()
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout


@needs_citus
def test_upgrade_into_a_distributed_application_runs_to_head_and_keeps_the_rules(
    citus_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The application distributed first (companies by id, tenant tables by tenant_id,
    VPS/IPs as reference tables), with its rows; then `db upgrade` to head, one statement per
    command (Citus forwards each DDL to the workers), and what the triggers, policies, keys and
    functions did on PostgreSQL still holds another way."""
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute(APP_SCHEMA)
        conn.execute(APP_ROWS)
        conn.execute(
            "ALTER TABLE billing_analytics ADD FOREIGN KEY (tenant_id, subscription_id)"
            " REFERENCES subscriptions (tenant_id, id)"
        )

    migrate.upgrade(citus_url)
    assert migrate.current_revision(citus_url) == migrate.head_revision()
    own_and_price_the_vps(citus_url)  # the columns revisions 0001-0002 added
    with psycopg.connect(citus_url, autocommit=True) as conn:
        per_worker = conn.execute(
            "SELECT result FROM run_command_on_workers($$SELECT count(*) FROM pg_indexes "
            "WHERE indexname LIKE 'idx_tc_subscriptions_tenant%'$$)"
        ).fetchall()
        assert per_worker and all(int(r[0]) > 0 for r in per_worker)  # the shards' indexes
        # 0004: no trigger on the reference table; the IPs that existed take the constant
        # (seeded 4.99), a new one takes it from the column default, and a changed constant
        # is what the next new IP gets.
        assert conn.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'smtp_ip_addresses'::regclass"
            " AND NOT tgisinternal"
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT approximate_cost, cost_source FROM smtp_ip_addresses WHERE id = %s", (IP_A,)
        ).fetchone() == (Decimal("4.99"), "setting")
        conn.execute(
            "INSERT INTO smtp_ip_addresses (id, vps_instance_id, status) VALUES (%s, %s, 'active')",
            (uuid.UUID(int=0xF2), VPS_SHARED),
        )
        conn.execute("UPDATE cost_settings SET value = '5.25' WHERE key = 'smtp_ip_monthly_cost'")
        conn.execute(
            "INSERT INTO smtp_ip_addresses (id, vps_instance_id, status) VALUES (%s, %s, 'active')",
            (uuid.UUID(int=0xF3), VPS_SHARED),
        )
        costs = dict(
            conn.execute(
                "SELECT id, approximate_cost FROM smtp_ip_addresses WHERE id = ANY(%s)",
                ([uuid.UUID(int=0xF2), uuid.UUID(int=0xF3)],),
            ).fetchall()
        )
        assert costs == {uuid.UUID(int=0xF2): Decimal("4.99"), uuid.UUID(int=0xF3): Decimal("5.25")}
        conn.execute("UPDATE cost_settings SET value = '4.99' WHERE key = 'smtp_ip_monthly_cost'")
        conn.execute("DELETE FROM smtp_ip_addresses WHERE id <> %s", (IP_A,))
        # 0006 / 0010: the functions over distributed tables are PL/pgSQL there
        languages = dict(
            conn.execute(
                "SELECT p.oid::regprocedure::text, l.lanname FROM pg_proc p"
                " JOIN pg_language l ON l.oid = p.prolang"
                " WHERE p.proname IN ('tenantcost_cost_lines')"
            ).fetchall()
        )
        assert languages["tenantcost_cost_lines(text,timestamp with time zone)"] == "plpgsql"

    # `db verify`: everything passes but the placement of tenantcost's own tables (what
    # `db distribute` does) and the audit of reference-table cost changes (no trigger there)
    with connect(citus_url, autocommit=True) as conn:
        conn.execute("INSERT INTO tenant_mapping (tenant_id, kind) VALUES (%s, 'shared')", (BETA,))
    code, output = _cli(citus_url, monkeypatch, "verify", "--format", "json")
    assert code == 1
    checks = {c["check"]: (c["status"], c["detail"]) for c in json.loads(output)}
    application = {
        "Citus: companies distributed", "Citus: subscriptions distributed",
        "Citus: payments distributed", "Citus: billing_analytics distributed",
        "Citus: plans reference", "Citus: vps_instances reference",
        "Citus: smtp_ip_addresses reference",
    }  # fmt: skip
    assert all(checks[name][0] == "PASS" for name in application)
    failed = {name for name, (status, _) in checks.items() if status == "FAIL"}
    placement = re.compile(r"Citus: \w+ (distributed|reference)$")
    # (tenantcost's own tables keyed by tenant_id are placement checks of their own)
    assert {n for n in failed if not placement.match(n)} == {"Citus: cost changes audited"}
    assert {n for n in failed if placement.match(n)} >= {
        "Citus: tenant_mapping reference", "Citus: cost_settings reference",
    }  # fmt: skip
    assert checks["billable IPs carry the constant (unless overridden)"][0] == "PASS"
    assert checks["smtp_ip_addresses.approximate_cost default 0.00"][0] == "PASS"
    assert checks["Citus: no orphaned rows"][0] == "PASS"

    # 0007: deleting a company on the workers cascades to nothing on the coordinator: verify
    # says so, with the count, instead of leaving the mapping silently
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute("DELETE FROM subscriptions WHERE tenant_id = %s", (BETA,))
        conn.execute("DELETE FROM companies WHERE id = %s", (BETA,))
    with connect(citus_url, autocommit=True) as conn:
        orphans = {c.check: c for c in check_install(conn)}["Citus: no orphaned rows"]
        assert orphans.status == "FAIL"
        assert "tenant_mapping: 1 row(s) whose company/subscription is gone" in orphans.detail
        conn.execute("DELETE FROM tenant_mapping")
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute("INSERT INTO companies VALUES (%s, 'Beta')", (BETA,))
        conn.execute(
            "INSERT INTO subscriptions VALUES (%s, %s, %s, 'active', date_trunc('month', now(),"
            " 'UTC'), date_trunc('month', now(), 'UTC') + interval '1 month')",
            (SUB_B, BETA, PRO),
        )

    # the cost model and a report, over the distributed tables
    code, output = _tenantcost(citus_url, monkeypatch, "report", "refresh")
    assert code == 0, output
    code, output = _tenantcost(citus_url, monkeypatch, "report", "health", "--format", "json")
    assert code == 0, output
    health = {r["company_name"]: r for r in json.loads(output)}
    assert set(health) == {"Acme", "Beta"}
    with psycopg.connect(citus_url) as conn:
        lines = {
            (r[0], r[1]): (r[2], r[3], r[4])
            for r in conn.execute(
                "SELECT tenant_id, driver, quantity, unit_price, amount FROM tenant_cost_ledger"
                " WHERE line = 'tenant' AND driver IN ('vps', 'dedicated_ips')"
            )
        }
        figures = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT tenant_id, payments_received, emails_sent, infrastructure_costs,"
                " email_service_costs FROM tenant_period_figures"
            )
        }
    share, price, amount = lines[(ACME, "vps")]
    assert price == Decimal("10.00") and amount == round(share * Decimal("10.00"), 12)
    ip_share, ip_price, ip_amount = lines[(ACME, "dedicated_ips")]
    assert ip_price == Decimal("4.99") and ip_amount == round(ip_share * Decimal("4.99"), 12)
    assert figures[ACME][:2] == (Decimal("25.00"), 1000)  # payments, emails: joined per tenant
    assert figures[ACME][2:] == (amount, ip_amount)
    assert figures[BETA] == (Decimal("0"), 0, Decimal("0"), Decimal("0"))
    assert not [k for k in lines if k[0] == BETA]

    # tenant isolation for a plain LOGIN role: SET LOCAL (set_tenant) in a transaction
    with psycopg.connect(citus_url, autocommit=True) as conn:
        key = read_key(conn)
    tables = ("companies", "subscriptions", "payments", "billing_analytics", "vps_instances",
              "smtp_ip_addresses")  # fmt: skip
    with app_login(citus_url) as as_app, psycopg.connect(as_app) as conn:

        def seen(token_for: uuid.UUID | None, *, forged: str | None = None) -> dict[str, int]:
            with conn.transaction():
                if forged is not None:
                    conn.execute(f"SET LOCAL app.current_tenant_id = '{forged}'")
                elif token_for is not None:
                    set_tenant(conn, key, token_for)
                return {
                    t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                    for t in tables
                }

        assert seen(ACME) == dict.fromkeys(tables, 1)  # its IP through its VPS included
        assert seen(BETA) == {
            "companies": 1, "subscriptions": 1, "payments": 0, "billing_analytics": 0,
            "vps_instances": 0, "smtp_ip_addresses": 0,
        }  # fmt: skip
        assert seen(None) == dict.fromkeys(tables, 0)
        assert seen(None, forged=str(ACME)) == dict.fromkeys(tables, 0)  # unsigned
        other_backend = tenant_token(key, ACME, conn.info.backend_pid + 1)
        assert seen(None, forged=other_backend) == dict.fromkeys(tables, 0)
        with conn.transaction():
            set_tenant(conn, key, ACME)
            row = conn.execute("SELECT id FROM companies WHERE id = %s", (BETA,)).fetchone()
            assert row is None  # routed to Beta's shard, and still nothing

    # and back: the down scripts take the Citus variants away too, and upgrade runs again
    migrate.downgrade(citus_url, "base")
    with psycopg.connect(citus_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_proc WHERE proname LIKE 'tenantcost%'"
        ).fetchone() == (0,)
    migrate.upgrade(citus_url)
    assert migrate.current_revision(citus_url) == migrate.head_revision()


@needs_citus
def test_cost_commands_price_and_audit_where_reference_tables_have_no_triggers(
    citus_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the distributed application VPS/IPs are reference tables without the pricing and
    audit triggers: tenantcost's own commands re-price and write the audit rows themselves."""
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute(APP_SCHEMA)
        conn.execute(APP_ROWS)
    migrate.upgrade(citus_url)
    with connect(citus_url) as conn:
        override_cost(conn, "ip", str(IP_A), "7.00", "negotiated")
        cleared = clear_override(conn, "ip", str(IP_A), "back to the constant")
        set_setting(conn, "smtp_ip_monthly_cost", "5.25", "new contract")
        override_cost(conn, "vps", str(VPS_A), "12.00", "priced by hand")
        ip = conn.execute(
            "SELECT approximate_cost, cost_override, cost_source FROM smtp_ip_addresses"
            " WHERE id = %s",
            (IP_A,),
        ).fetchone()
        audits = [
            tuple(r.values())
            for r in conn.execute(
                "SELECT entity, entity_id, old_value, new_value, source FROM cost_audit ORDER BY id"
            )
        ]
    assert cleared.new == Decimal("4.99")  # the constant back at once, as the trigger did
    assert ip == {"approximate_cost": Decimal("5.25"), "cost_override": False,
                  "cost_source": "setting"}  # fmt: skip
    # tiers became a Citus table with plan_tiers (a key to the reference table plans):
    # its upsert takes no now() in DO UPDATE
    code, output = _tenantcost(
        citus_url, monkeypatch, "tiers", "set", "PRO", "--price", "26", "--reason", "Citus"
    )
    assert code == 0, output
    with psycopg.connect(citus_url) as conn:
        assert conn.execute("SELECT monthly_price FROM tiers WHERE name = 'PRO'").fetchone() == (
            Decimal("26.00"),
        )
    assert audits == [
        ("ip", str(IP_A), "4.99", "7.00", "override"),
        ("ip", str(IP_A), "7.00", "4.99", "clear-override"),
        ("setting", "smtp_ip_monthly_cost", "4.99", "5.25", "finance"),  # cost_settings: trigger
        ("ip", str(IP_A), "4.99", "5.25", "setting"),
        ("vps", str(VPS_A), "0.00", "12.00", "override"),
    ]
    # cost_settings placed as `db distribute` plans it: its triggers dropped, a reference
    # table; a changed setting is then audited once, by tenantcost itself
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER trg_cost_settings_audit ON cost_settings")
        conn.execute("DROP TRIGGER tenantcost_cost_input_change ON cost_settings")
        conn.execute("SELECT create_reference_table('cost_settings')")
    with connect(citus_url) as conn:
        set_setting(conn, "smtp_ip_monthly_cost", "5.50", "next contract")
        later = [
            tuple(r.values())
            for r in conn.execute(
                "SELECT entity, entity_id, old_value, new_value, source FROM cost_audit"
                " WHERE reason LIKE '%next contract' ORDER BY id"
            )
        ]
        unaudited = {c.check: c.detail for c in check_install(conn)}["Citus: cost changes audited"]
    assert later == [
        ("setting", "smtp_ip_monthly_cost", "5.25", "5.50", "finance"),
        ("ip", str(IP_A), "5.25", "5.50", "setting"),
    ]
    assert "cost_settings, smtp_ip_addresses, vps_instances" in unaudited


@needs_citus
def test_install_on_a_citus_coordinator_leaves_fewer_blockers_and_isolates_tenants(
    citus_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tables still local on a Citus coordinator: the policies that test their own column
    hold no subquery and the SQL-standard function is PL/pgSQL, so `db distribute` no longer
    lists them (nor the staleness triggers: the plan drops those); a signed tenant still sees
    only its own rows."""
    migrate.upgrade(citus_url)
    code, output = _cli(citus_url, monkeypatch, "distribute", "--dry-run", "--format", "csv")
    assert code == 1  # blockers remain (payments without tenant_id, …)
    blockers = [line for line in output.splitlines() if "," in line and line[0].islower()]
    assert "payments,has no tenant_id column" in output
    for table in ("companies", "subscriptions", "tenant_period_figures"):
        assert not [b for b in blockers if b.startswith(f"{table},row-level policy")], table
    assert "BEGIN ATOMIC" not in output
    assert not [b for b in blockers if "trigger tenantcost_cost_input_change" in b]
    assert 'DROP TRIGGER "tenantcost_cost_input_change" ON "companies";' in output
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO companies (id, name) VALUES (%s, 'Acme'), (%s, 'Beta')", (ACME, BETA)
        )
        conn.execute("INSERT INTO plans (id, name) VALUES (%s, 'Pro')", (PRO,))
        conn.execute(
            "INSERT INTO subscriptions (id, tenant_id, plan_id, current_period_start,"
            " current_period_end) VALUES (%s, %s, %s, now(), now()), (%s, %s, %s, now(), now())",
            (SUB_A, ACME, PRO, SUB_B, BETA, PRO),
        )
        key = read_key(conn)
    with app_login(citus_url) as as_app, psycopg.connect(as_app) as conn:
        for tenant in (ACME, BETA):
            with conn.transaction():
                set_tenant(conn, key, tenant)
                assert conn.execute("SELECT id FROM companies").fetchall() == [(tenant,)]
                subs = conn.execute("SELECT tenant_id FROM subscriptions").fetchall()
                assert subs == [(tenant,)]
        with conn.transaction():
            conn.execute(f"SET LOCAL app.current_tenant_id = '{ACME}'")  # unsigned
            assert conn.execute("SELECT count(*) FROM companies").fetchone() == (0,)


@needs_citus
def test_distribute_with_blockers_lists_them_and_changes_nothing(
    citus_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate.upgrade(citus_url)
    before = _placements(citus_url)
    code, output = _cli(citus_url, monkeypatch, "distribute")
    assert code == 2
    assert "nothing was changed" in output
    assert "payments" in output and "has no tenant_id column" in output
    assert _placements(citus_url) == before


@needs_citus
def test_distribute_places_reference_and_colocated_tables_and_is_idempotent(
    citus_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, plan_id = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE companies (id uuid PRIMARY KEY, name text NOT NULL);"
            "CREATE TABLE plans (id uuid PRIMARY KEY, name text NOT NULL);"
            "CREATE TABLE tier_state (tenant_id uuid PRIMARY KEY REFERENCES companies (id),"
            " plan_id uuid NOT NULL REFERENCES plans (id));"
            "CREATE TABLE outbox (id bigint PRIMARY KEY)"
        )
        conn.execute("INSERT INTO companies VALUES (%s, 'Acme')", (tenant,))
        conn.execute("INSERT INTO plans VALUES (%s, 'Pro')", (plan_id,))
        conn.execute("INSERT INTO tier_state VALUES (%s, %s)", (tenant, plan_id))

    code, dry = _cli(citus_url, monkeypatch, "distribute", "--dry-run")
    assert code == 0, dry
    assert "SELECT create_distributed_table('companies', 'id');" in dry
    assert _placements(citus_url) == {}  # a dry run changes nothing

    code, output = _cli(citus_url, monkeypatch, "distribute")
    assert code == 0, output
    placed = _placements(citus_url)
    assert placed["companies"][:2] == ("h", "id")
    assert placed["tier_state"][:2] == ("h", "tenant_id")
    assert placed["tier_state"][2] == placed["companies"][2]  # co-located
    assert placed["plans"][0] == "n"  # reference
    assert "outbox" not in placed  # stays local on the coordinator
    with psycopg.connect(citus_url) as conn:
        assert conn.execute("SELECT count(*) FROM tier_state").fetchone() == (1,)
        keys = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'tier_state'::regclass "
            "AND contype = 'f'"
        ).fetchone()
        assert keys == (2,)  # both foreign keys restored
        with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
            conn.execute("INSERT INTO tier_state VALUES (%s, %s)", (uuid.uuid4(), plan_id))
        on_workers = conn.execute(
            "SELECT DISTINCT n.nodeport FROM pg_dist_placement p JOIN pg_dist_shard s "
            "USING (shardid) JOIN pg_dist_node n USING (groupid) "
            "WHERE s.logicalrelid = 'tier_state'::regclass AND n.groupid <> 0"
        ).fetchall()
        assert len(on_workers) >= 2  # shards spread over the workers

    code, again = _cli(citus_url, monkeypatch, "distribute")
    assert code == 0 and "0 statement(s)" in again
    with connect(citus_url, autocommit=True) as conn:
        checks = {r.check: r.status for r in check_placement(conn)}
    assert checks == {
        "Citus: companies distributed": "PASS",
        "Citus: tier_state distributed": "PASS",
        "Citus: plans reference": "PASS",
        "Citus: every table keyed by tenant_id distributed": "PASS",
        "Citus: tenant tables co-located": "PASS",
    }
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE app_notes (tenant_id uuid NOT NULL, body text)")
    with connect(citus_url, autocommit=True) as conn:
        stray = {r.check: (r.status, r.detail) for r in check_placement(conn)}
    assert stray["Citus: every table keyed by tenant_id distributed"] == (
        "FAIL",
        "local: app_notes",
    )


def test_distribute_without_citus_refuses_and_changes_nothing(
    use_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _cli(use_database, monkeypatch, "distribute")
    assert code == 2
    assert "the citus extension is not installed" in output
    with psycopg.connect(use_database) as conn:
        assert conn.execute("SELECT to_regclass('pg_dist_partition')").fetchone() == (None,)


def test_dry_run_without_citus_prints_the_plan_and_tenantcosts_own_blockers(
    use_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _cli(use_database, monkeypatch, "distribute", "--dry-run", "--format", "csv")
    assert code == 1  # blockers: like `db verify`, a non-zero exit
    assert output.startswith("BEGIN;\n")
    assert "SELECT create_distributed_table('companies', 'id');" in output
    assert (
        "SELECT create_distributed_table('tenant_usage_hourly', 'tenant_id', "
        "colocate_with => 'companies');" in output
    )
    assert "SELECT create_reference_table('plans');" in output
    assert "payments,has no tenant_id column" in output


def two_tenants_with_messages(
    conn: Any, heavy: uuid.UUID, light: uuid.UUID, rows: tuple[int, int]
) -> None:
    """Companies Heavy and Light and a distributed app table with ``rows`` messages each
    (skips when the cluster does not track tenants: citus.stat_tenants_track 'none')."""
    track = conn.execute("SELECT current_setting('citus.stat_tenants_track') AS t").fetchone()
    if track is None or track["t"] == "none":
        pytest.skip("citus.stat_tenants_track is 'none' on this cluster: set it to 'all'")
    conn.execute(
        "INSERT INTO companies (id, name) VALUES (%s, 'Heavy'), (%s, 'Light')", (heavy, light)
    )
    conn.execute(
        "CREATE TABLE app_messages (tenant_id uuid NOT NULL, id bigint NOT NULL,"
        " body text NOT NULL, PRIMARY KEY (tenant_id, id))"
    )
    conn.execute("SELECT create_distributed_table('app_messages', 'tenant_id')")
    for tenant, n in zip((heavy, light), rows, strict=True):
        conn.execute(
            "INSERT INTO app_messages SELECT %s, g, repeat('x', 200) FROM generate_series(1, %s) g",
            (tenant, n),
        )
    # vacuumed now, so that autovacuum does not add the shards' visibility-map page between a
    # collector's read of the shard sizes and the test's own (a race seen once: 8 kB apart)
    conn.execute("VACUUM app_messages")


@needs_citus
def test_collect_measures_each_tenants_queries_cpu_and_shards_on_the_workers(
    citus_url: str,
) -> None:
    migrate.upgrade(citus_url)
    heavy, light = uuid.uuid4(), uuid.uuid4()
    with connect(citus_url, autocommit=True) as conn:
        two_tenants_with_messages(conn, heavy, light, (3000, 1000))
        Collector(conn, measure_host=False).collect()  # the baseline
        for tenant, times in ((heavy, 40), (light, 10)):
            for _ in range(times):
                conn.execute(
                    "SELECT count(*), sum(length(body)) FROM app_messages WHERE tenant_id = %s",
                    (tenant,),
                )
        report = Collector(conn, measure_host=False).collect()
        usage = {
            (r["tenant_id"], r["metric"]): r["q"]
            for r in conn.execute(
                "SELECT tenant_id, metric, sum(quantity) AS q FROM tenant_usage_hourly"
                " WHERE source IN ('citus_stat_tenants', 'citus_shard_share')"
                " GROUP BY tenant_id, metric"
            )
        }
        shards = {
            t: conn.execute(
                "SELECT get_shard_id_for_distribution_column('app_messages', %s) AS s", (t,)
            ).fetchone()["s"]  # type: ignore[index]
            for t in (heavy, light)
        }
        sizes = {
            r["shard_id"]: r["size"]
            for r in conn.execute("SELECT shard_id, size FROM citus_shard_sizes()")
        }
    assert "citus_stat_tenants" in report.sources["citus"]
    assert usage[(heavy, "query_count")] == 40  # exact: single-tenant queries counted once
    assert usage[(light, "query_count")] == 10
    assert usage[(heavy, "compute_seconds")] > usage[(light, "compute_seconds")] > 0
    # each tenant's row share of its shard's bytes (32 shards: alone unless they collide)
    if shards[heavy] != shards[light]:
        assert usage[(heavy, "storage_bytes")] == sizes[shards[heavy]]
        assert usage[(light, "storage_bytes")] == sizes[shards[light]]
    else:
        total = sizes[shards[heavy]]
        assert usage[(heavy, "storage_bytes")] == round(Decimal(total) * 3000 / 4000)
        assert usage[(light, "storage_bytes")] == round(Decimal(total) * 1000 / 4000)


@needs_citus
def test_distribute_that_citus_refuses_rolls_back_with_one_message(
    citus_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal the planner cannot see (here: a plain role may not distribute) leaves
    nothing placed and prints one message, not a traceback."""
    role = f"tc_plain_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE companies (id uuid PRIMARY KEY);"
            "CREATE TABLE plans (id uuid PRIMARY KEY);"
            f"CREATE ROLE {role} LOGIN PASSWORD 'plain';"
            f"GRANT USAGE, CREATE ON SCHEMA public TO {role};"
            f"GRANT SELECT ON companies, plans TO {role}"
        )
    parts = urlsplit(citus_url)
    host = parts.netloc.rpartition("@")[2]
    plain = urlunsplit(parts._replace(netloc=f"{role}:plain@{host}"))
    try:
        code, output = _cli(plain, monkeypatch, "distribute")
        assert code == 2, output
        assert "failed and was rolled back, nothing changed" in output
        assert _placements(citus_url) == {}
    finally:
        with psycopg.connect(citus_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


@needs_citus
def test_collect_without_rights_on_citus_stat_tenants_warns_and_keeps_the_rest(
    citus_url: str,
) -> None:
    migrate.upgrade(citus_url)
    role = f"tc_collector_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute(
            f"CREATE ROLE {role} LOGIN PASSWORD 'c' IN ROLE db_administrators, pg_read_all_stats"
        )
        conn.execute("SELECT tenantcost_ensure_usage_partition(now())")  # the owner's job
    parts = urlsplit(citus_url)
    as_role = urlunsplit(parts._replace(netloc=f"{role}:c@{parts.netloc.rpartition('@')[2]}"))
    try:
        with connect(as_role, autocommit=True) as conn:
            report = Collector(conn, measure_host=False).collect()
            runs = conn.execute("SELECT count(*) AS n FROM telemetry_runs").fetchone()
        assert report.sources["citus"].startswith("unavailable: permission denied")
        assert any("Citus per-tenant figures skipped" in w for w in report.warnings)
        assert runs is not None and runs["n"] == 1  # the pass itself was recorded
    finally:
        with psycopg.connect(citus_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


@needs_citus
def test_query_counts_equal_what_pgbench_ran_per_tenant(citus_url: str, tmp_path: Path) -> None:
    """An independent client: pgbench runs 320 and 80 router queries (a 4 : 1 workload), over
    several passes of the collector (one in between); the tenants' query_count equals the
    transactions pgbench reports processed, and CPU follows the same order."""
    pgbench = pg15.PG15_BIN / "pgbench"
    if not pgbench.is_file():
        pytest.skip(f"{pgbench} not found (Debian's postgresql-15; `make test` installs it)")
    migrate.upgrade(citus_url)
    heavy, light = uuid.uuid4(), uuid.uuid4()
    with connect(citus_url, autocommit=True) as conn:
        two_tenants_with_messages(conn, heavy, light, (2000, 2000))
        Collector(conn, measure_host=False).collect()  # the baseline
    script = tmp_path / "tenant.sql"
    script.write_text(
        "SELECT count(*), sum(length(body)) FROM app_messages WHERE tenant_id = :t;\n"
    )

    def run(tenant: uuid.UUID, transactions: int) -> int:
        out = subprocess.run(
            [str(pgbench), "-n", "-c", "2", "-t", str(transactions // 2), "-f", str(script),
             "-D", f"t='{tenant}'", citus_url],
            capture_output=True, text=True, check=True, timeout=120,
        ).stdout  # fmt: skip
        match = re.search(r"actually processed: (\d+)/", out)
        assert match, out
        return int(match.group(1))

    ran = {heavy: run(heavy, 240), light: run(light, 60)}
    with connect(citus_url, autocommit=True) as conn:
        Collector(conn, measure_host=False).collect()  # a pass in the middle
    ran[heavy] += run(heavy, 80)
    ran[light] += run(light, 20)
    with connect(citus_url, autocommit=True) as conn:
        report = Collector(conn, measure_host=False).collect()
        usage = {
            (r["tenant_id"], r["metric"]): r["q"]
            for r in conn.execute(
                "SELECT tenant_id, metric, sum(quantity) AS q FROM tenant_usage_hourly"
                " WHERE source = 'citus_stat_tenants' GROUP BY tenant_id, metric"
            )
        }
    assert ran == {heavy: 320, light: 80}
    # the passes are seconds apart, well inside one 60 s period of citus_stat_tenants
    assert not [w for w in report.warnings if "part of it lost" in w]
    assert usage[(heavy, "query_count")] == 320
    assert usage[(light, "query_count")] == 80
    assert usage[(heavy, "compute_seconds")] > usage[(light, "compute_seconds")] > 0


def _bucket(conn: Any, tenant: uuid.UUID) -> int:
    """Which of 32 equal hash ranges (Citus's default shard count) a tenant falls in."""
    row = conn.execute("SELECT worker_hash(%s::uuid) AS h", (tenant,)).fetchone()
    return (int(row["h"]) + 2**31) * 32 // 2**32


def _tenants_in_buckets(conn: Any, *, same: bool) -> tuple[uuid.UUID, uuid.UUID]:
    """Two tenant ids hashed into the same shard (``same``) or into different ones."""
    first = uuid.uuid4()
    while True:
        other = uuid.uuid4()
        if (_bucket(conn, first) == _bucket(conn, other)) == same:
            return first, other


class WorkerBackendCpu:
    """Ground truth from the kernel: utime + stime (/proc/<pid>/stat) of the worker backends
    serving each tenant's coordinator sessions, found by their ``citus_internal gpid=<gpid>``
    application name (gpid = coordinator nodeid x 10^10 + the coordinator backend's pid) and
    the coordinator session's ``tc:<tenant>`` application name. Polled while the client runs;
    the client's script sleeps after each query, so the last poll follows the last query."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ticks: dict[tuple[int, int], tuple[uuid.UUID, int]] = {}
        self.clk = os.sysconf("SC_CLK_TCK")

    def poll_while(self, process: subprocess.Popen[str]) -> None:
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            node = conn.execute("SELECT nodeid FROM pg_dist_node WHERE groupid = 0").fetchone()
            workers = conn.execute(
                "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0"
            ).fetchall()
            conns = [
                psycopg.connect(
                    _on(self.url, host=w["nodename"], port=w["nodeport"]),
                    autocommit=True,
                    row_factory=dict_row,
                )
                for w in workers
            ]
            assert node is not None
            base = int(node["nodeid"]) * 10**10
            try:
                while True:
                    done = process.poll() is not None
                    tagged = {
                        base + r["pid"]: uuid.UUID(r["application_name"][3:])
                        for r in conn.execute(
                            "SELECT pid, application_name FROM pg_stat_activity"
                            " WHERE datname = current_database() AND application_name LIKE 'tc:%'"
                        )
                    }
                    for wconn in conns:
                        for r in wconn.execute(
                            "SELECT pid, application_name FROM pg_stat_activity"
                            " WHERE datname = current_database()"
                            " AND application_name LIKE 'citus_internal gpid=%'"
                        ):
                            tenant = tagged.get(int(r["application_name"].split("=")[1]))
                            if tenant is not None:
                                self._read(r["pid"], tenant)
                    if done:
                        return
                    time.sleep(0.01)
            finally:
                for wconn in conns:
                    wconn.close()

    def _read(self, pid: int, tenant: uuid.UUID) -> None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return
        # fields[0] is field 3 (state): utime 14, stime 15, starttime 22
        key = (pid, int(fields[19]))
        self.ticks[key] = (tenant, int(fields[11]) + int(fields[12]))

    def seconds(self) -> dict[uuid.UUID, Decimal]:
        out: dict[uuid.UUID, Decimal] = {}
        for tenant, ticks in self.ticks.values():
            out[tenant] = out.get(tenant, Decimal(0)) + Decimal(ticks) / self.clk
        return out


def _worker_usage(conn: Any, source: str) -> dict[tuple[uuid.UUID | None, str], Decimal]:
    return {
        (r["tenant_id"], r["metric"]): r["q"]
        for r in conn.execute(
            "SELECT tenant_id, metric, sum(quantity) AS q FROM tenant_usage_hourly"
            " WHERE source = %s GROUP BY tenant_id, metric",
            (source,),
        )
    }


def _share(figures: dict[uuid.UUID, Decimal], tenant: uuid.UUID) -> Decimal:
    return figures[tenant] / sum(figures.values())


@needs_citus
@pytest.mark.parametrize("mode", ["own-shards", "one-shard", "sampler"])
def test_the_workers_own_statistics_measure_each_tenant_against_the_kernel(
    citus_url: str, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two tenants driven by pgbench at 4 : 1 (the same query), each in a shard of its own or
    both in one shard; the workers' pg_stat_statements / pg_stat_kcache, read by collect on
    each worker, give each tenant the queries pgbench ran (own shards: one shard query per
    query, exactly) and CPU within 15 % of the worker backends' kernel CPU (/proc, polled
    while pgbench ran: an independent measurement), CPU shares within 3 points. In one shard
    the shard's CPU is split by the tenants' citus_stat_tenants CPU on that worker.
    ``sampler``: the backend sampler runs too (0.1 s), following the workers' backends by the
    coordinator session they serve; its workers' part (citus_cluster_sampler minus the
    coordinator's backend_sampler) is held to the same bounds."""
    pgbench = pg15.PG15_BIN / "pgbench"
    if not pgbench.is_file():
        pytest.skip(f"{pgbench} not found (Debian's postgresql-15; `make test` installs it)")
    migrate.upgrade(citus_url)
    sampler = None
    with connect(citus_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_kcache")  # Citus: on every node
        heavy, light = _tenants_in_buckets(conn, same=mode == "one-shard")
        two_tenants_with_messages(conn, heavy, light, (20000, 20000))
        if mode == "sampler":
            monkeypatch.setenv("TENANTCOST_SAMPLER_INTERVAL", "0.1")
            get_settings.cache_clear()
            sampler, why = start_sampler(conn)
            assert sampler is not None, why
            assert len(sampler.followers) == 2, why  # both workers run on this machine
        Collector(conn, measure_host=False, sampler=sampler).collect()  # the baseline
        script = tmp_path / "tenant.sql"
        script.write_text(
            "SELECT count(*), sum(length(body)) FROM app_messages WHERE tenant_id = :t;\n"
            "\\sleep 30 ms\n"
        )
        truth = WorkerBackendCpu(citus_url)

        def run(tenant: uuid.UUID, transactions: int) -> int:
            process = subprocess.Popen(
                [str(pgbench), "-n", "-c", "2", "-t", str(transactions // 2), "-f", str(script),
                 "-D", f"t='{tenant}'", citus_url],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "PGAPPNAME": f"tc:{tenant}"},
            )  # fmt: skip
            truth.poll_while(process)
            out, err = process.communicate(timeout=120)
            match = re.search(r"actually processed: (\d+)/", out)
            assert process.returncode == 0 and match, out + err
            return int(match.group(1))

        try:
            ran = {heavy: run(heavy, 200), light: run(light, 50)}
        finally:
            if sampler is not None:
                time.sleep(0.3)  # the sessions' exits seen by a tick or two
                sampler.stop()
        report = Collector(conn, measure_host=False, sampler=sampler).collect()
        statements = _worker_usage(conn, "citus_worker_statements")
        kcache = _worker_usage(conn, "citus_worker_kcache")
        cluster = _worker_usage(conn, "citus_cluster_sampler")
        coordinator = _worker_usage(conn, "backend_sampler")
    kernel = truth.seconds()
    measured = {t: kcache[(t, "compute_seconds")] for t in (heavy, light)}
    print("worker sources:", report.sources["citus_workers"])
    print("pgbench:", ran, "kernel:", kernel, "kcache:", measured)
    print("statements:", statements)
    assert ran == {heavy: 200, light: 50}
    if mode != "one-shard":  # one shard query per router query
        assert statements[(heavy, "query_count")] == 200
        assert statements[(light, "query_count")] == 50
    else:  # the shard's 250 queries, split by CPU share: in proportion, not exactly 200 : 50
        both = statements[(heavy, "query_count")] + statements[(light, "query_count")]
        assert abs(both - 250) <= Decimal("0.00001")
    figures = [measured]
    if mode == "sampler":
        sampled = {
            t: cluster[(t, "compute_seconds")] - coordinator[(t, "compute_seconds")]
            for t in (heavy, light)
        }
        print("sampler, workers' part:", sampled, "coordinator's:", coordinator)
        print("compute:", report.sources["compute"])
        figures.append(sampled)
    for figure in figures:
        for tenant in (heavy, light):
            error = abs(figure[tenant] - kernel[tenant])
            assert error <= Decimal("0.15") * kernel[tenant], (tenant, figure, kernel)
        assert abs(_share(figure, heavy) - _share(kernel, heavy)) <= Decimal("0.03"), figure


@needs_citus
def test_each_worker_is_read_on_its_own_and_one_out_of_reach_keeps_its_counters(
    citus_url: str,
) -> None:
    """Deltas per worker node: a reset on one worker is that worker's (said, counted from
    zero, nothing negative); a worker out of reach (TENANTCOST_CITUS_WORKER_URL pointing at a
    closed port) is skipped with a warning and its snapshot kept for the next pass."""
    migrate.upgrade(citus_url)
    parts = urlsplit(citus_url)
    template = urlunsplit(
        parts._replace(netloc=f"{parts.netloc.rpartition('@')[0]}@{{host}}:{{port}}")
    )
    closed = urlunsplit(parts._replace(netloc=f"{parts.netloc.rpartition('@')[0]}@{{host}}:1"))
    with connect(citus_url, autocommit=True) as conn:
        workers = conn.execute(
            "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeid"
        ).fetchall()
        labels = [f"{w['nodename']}:{w['nodeport']}" for w in workers]
        Collector(conn, measure_host=False, settings=Settings(citus_worker_url=template)).collect()
        kept = {
            r["key"]: r["observed_at"]
            for r in conn.execute(
                "SELECT key, observed_at FROM telemetry_state WHERE source = 'citus_worker'"
            )
        }
        assert sorted(kept) == sorted(labels)  # one snapshot per worker
        first = workers[0]
        with psycopg.connect(_on(citus_url, host=first["nodename"], port=first["nodeport"])) as w:
            w.execute("SELECT pg_stat_statements_reset()")
        report = Collector(conn, measure_host=False).collect()
        assert any(
            w.startswith(f"worker {labels[0]}: pg_stat_statements was reset")
            for w in report.warnings
        ), report.warnings
        assert not any(
            w.startswith(f"worker {labels[1]}: pg_stat_statements was reset")
            for w in report.warnings
        )
        negative = conn.execute(
            "SELECT count(*) AS n FROM tenant_usage_hourly"
            " WHERE source LIKE 'citus_worker%%' AND quantity < 0"
        ).fetchone()
        assert negative is not None and negative["n"] == 0
        before = {
            r["key"]: r["observed_at"]
            for r in conn.execute(
                "SELECT key, observed_at FROM telemetry_state WHERE source = 'citus_worker'"
            )
        }
        report = Collector(
            conn, measure_host=False, settings=Settings(citus_worker_url=closed)
        ).collect()
        after = {
            r["key"]: r["observed_at"]
            for r in conn.execute(
                "SELECT key, observed_at FROM telemetry_state WHERE source = 'citus_worker'"
            )
        }
    for label in labels:
        assert any(w.startswith(f"Citus worker {label} not read: ") for w in report.warnings)
    assert after == before  # the snapshots wait for the next pass that reaches the workers
    assert "unreachable" in report.sources["citus_workers"]


# ----------------------------------------------------------------------------- same reports

MONTH = "2025-11"
CALM, TEAM, SUB_C, VPS_B, IP_S = (uuid.UUID(int=n) for n in (0xA3, 0xC2, 0xD3, 0xE3, 0xF4))
MONTH_ROWS = f"""
INSERT INTO companies VALUES ('{ACME}', 'Acme'), ('{BETA}', 'Beta'), ('{CALM}', 'Calm');
INSERT INTO plans VALUES ('{PRO}', 'Pro', 25.00), ('{TEAM}', 'Team', 99.00);
INSERT INTO subscriptions VALUES
    ('{SUB_A}', '{ACME}', '{PRO}', 'active', '2025-11-01 00:00+00', '2025-12-01 00:00+00'),
    ('{SUB_B}', '{BETA}', '{TEAM}', 'active', '2025-11-01 00:00+00', '2025-12-01 00:00+00'),
    ('{SUB_C}', '{CALM}', '{PRO}', 'active', '2025-11-01 00:00+00', '2025-12-01 00:00+00');
INSERT INTO payments VALUES
    (gen_random_uuid(), '{ACME}', '{SUB_A}', 25.00, '2025-11-01 00:00+00'),
    (gen_random_uuid(), '{BETA}', '{SUB_B}', 99.00, '2025-11-01 00:00+00'),
    (gen_random_uuid(), '{CALM}', '{SUB_C}', 25.00, '2025-11-01 00:00+00');
INSERT INTO billing_analytics (id, tenant_id, subscription_id, period_start, emails_sent)
SELECT gen_random_uuid(), t, s, '2025-11-01 00:00+00'::timestamptz + d * interval '1 day', n
  FROM (VALUES ('{ACME}'::uuid, '{SUB_A}'::uuid, 1000), ('{BETA}', '{SUB_B}', 40000),
               ('{CALM}', '{SUB_C}', 10)) AS x (t, s, n)
 CROSS JOIN generate_series(0, 29) AS d;
INSERT INTO vps_instances (id, name, status) VALUES ('{VPS_A}', 'a', 'active'),
    ('{VPS_B}', 'b', 'active'), ('{VPS_SHARED}', 'shared', 'active');
INSERT INTO smtp_ip_addresses (id, vps_instance_id, ip_address, status) VALUES
    ('{IP_A}', '{VPS_A}', '192.0.2.1', 'active'), ('{IP_S}', '{VPS_SHARED}', '192.0.2.9', 'active');
"""
#: after the install: owners and costs, and a month of usage evidence (compute, storage)
MONTH_USAGE = f"""
UPDATE vps_instances SET tenant_id = '{ACME}', approximate_cost = 10.00 WHERE id = '{VPS_A}';
UPDATE vps_instances SET tenant_id = '{BETA}', approximate_cost = 30.00 WHERE id = '{VPS_B}';
UPDATE vps_instances SET approximate_cost = 20.00 WHERE id = '{VPS_SHARED}';
SELECT tenantcost_ensure_usage_partition(h)
  FROM generate_series('2025-11-01 00:00+00'::timestamptz, '2025-11-30 23:00+00', '1 day') AS h;
INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity)
SELECT h, t, m, 'pg_stat_statements', q * (1 + extract(hour FROM h AT TIME ZONE 'UTC') / 24)
  FROM generate_series('2025-11-01 00:00+00'::timestamptz, '2025-11-30 23:00+00', '1 hour') AS h
 CROSS JOIN (VALUES ('{ACME}'::uuid, 'compute_seconds', 120.5), ('{BETA}', 'compute_seconds', 900),
                    ('{CALM}', 'compute_seconds', 3.25)) AS x (t, m, q);
INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity)
SELECT h, t, 'storage_bytes', 'database_size', b
  FROM generate_series('2025-11-01 00:00+00'::timestamptz, '2025-11-30 23:00+00', '1 hour') AS h
 CROSS JOIN (VALUES ('{ACME}'::uuid, 2e9), ('{BETA}', 7.5e9), ('{CALM}', 1e8)) AS x (t, b);
"""
SAME_REPORTS = (
    ["report", "health"], ["report", "optimization"], ["report", "cost-by-plan"],
    ["report", "cost-per-email"], ["report", "shared"], ["report", "tenant-costs"],
    ["report", "cost-drivers"], ["report", "quality"],
)  # fmt: skip


#: evidence of no tenant (host CPU no tenant's query explains), stored with the nil UUID
MONTH_UNATTRIBUTED = """
INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity)
SELECT h, '00000000-0000-0000-0000-000000000000', 'compute_seconds', 'pg_stat_statements', 7.25
  FROM generate_series('2025-11-01 00:00+00'::timestamptz, '2025-11-30 23:00+00', '6 hours') AS h;
"""
#: what a writer of its own marks on Citus, where no trigger does (tenantcost's writers do)
MONTH_MARKED = """
INSERT INTO tenant_usage_changed_days (day)
SELECT d::date FROM generate_series('2025-11-01'::date, '2025-11-30', '1 day') AS d
ON CONFLICT (day) DO NOTHING;
"""


def _month_on(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    schema: str,
    *,
    distribute: bool = False,
    extra: str = "",
) -> dict[str, list[Any]]:
    """The application's month loaded into ``url`` with ``schema``, tenantcost installed (and
    its tables placed by `db distribute`, and a `collect` pass run), the month attributed:
    every report's JSON rows, in a stable order."""
    from tenantcost.pricing.book import find_price_book
    from tenantcost.pricing.store import import_book

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(schema)
        conn.execute(MONTH_ROWS)
    migrate.upgrade(url)
    if distribute:
        code, output = _cli(url, monkeypatch, "distribute")
        assert code == 0, output
        # a collector pass on the distributed tables (before the month's evidence is in: the
        # month is older than the hourly window, so retention would roll it up)
        code, output = _tenantcost(url, monkeypatch, "collect")
        assert code == 0, output
    with connect(url, autocommit=True) as conn:
        import_book(conn, find_price_book("railway-2025-11"))
        conn.execute(MONTH_USAGE + extra + MONTH_MARKED)
    code, output = _tenantcost(url, monkeypatch, "attribute", "--month", MONTH)
    assert code == 0, output
    reports: dict[str, list[Any]] = {}
    for command in SAME_REPORTS:
        code, output = _tenantcost(url, monkeypatch, *command, "--month", MONTH, "--format", "json")
        assert code == 0, (command, output)
        rows = json.loads(output)
        reports[command[1]] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
    # the month's FOCUS export (the dashboard's download), byte for byte: its per-line
    # formatting is only stable, which Citus cannot push down to the workers
    with connect(url) as conn:
        info = focus.period_info(conn, MONTH)
        conn.commit()
        export = b"".join(focus.export_chunks(conn, MONTH, info, "tenantcost", "csv"))
    reports["FOCUS export"] = export.decode().splitlines()
    assert len(reports["FOCUS export"]) > 1
    reports.update(_views_and_readers(url))
    return reports


# The views to compare: every view of tenantcost's schema, those that show usage only within
# the month (the Citus side also ran `collect`, which adds the current hour's usage), and not
# tenant_resource_usage (the current month's usage only).
IN_MONTH = f"'{MONTH}-01'::date AND {{}} < '{MONTH}-01'::date + interval '1 month'"
VIEW_FILTERS = {
    "tenant_resource_usage": None,
    "tenant_usage_by_day": "day >= " + IN_MONTH.format("day"),
    "tenant_hourly_cost": "hour >= " + IN_MONTH.format("hour"),
}


def _value(value: Any) -> str:
    """A view's value as text, a number without its scale: a few stored figures come out at
    another scale on Citus (25.000000000000 for PostgreSQL's 25.00; not traced, docs/citus.md
    "Limits"), the same number; the reports and the export, which round, are compared byte
    for byte."""
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def _views_and_readers(url: str) -> dict[str, list[Any]]:
    """Every view of tenantcost's schema (not an extension's), and the readers whose SQL Citus
    once refused: the FOCUS export's default month, the what-if page's plans and the free-tier
    abuse signals (compared but for the export's month, checked to run). Citus sends a function call in a query on distributed tables to the shards
    (a function that reads a table is then a distributed query inside a shard's), and refuses
    subqueries correlated across tables that are not co-located."""
    from tenantcost.db.queries import queries

    out: dict[str, list[Any]] = {}
    with psycopg.connect(url, row_factory=dict_row) as conn:
        views = [
            r["relname"]
            for r in conn.execute(
                "SELECT c.relname FROM pg_class c"
                " WHERE c.relkind = 'v' AND c.relnamespace = current_schema()::regnamespace"
                "   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
                "                    AND d.objid = c.oid AND d.deptype = 'e')"
                " ORDER BY 1"
            ).fetchall()
        ]
        assert "shared_infrastructure_cost" in views and "tenant_usage_by_day" in views
        for view in views:
            if view in VIEW_FILTERS and VIEW_FILTERS[view] is None:
                continue
            where = f" WHERE {VIEW_FILTERS[view]}" if view in VIEW_FILTERS else ""
            try:
                rows = conn.execute(f"SELECT * FROM {view}{where}").fetchall()
            except psycopg.Error as exc:
                raise AssertionError(f"view {view}: {exc}") from exc
            out[f"view {view}"] = sorted(
                json.dumps(r, sort_keys=True, default=_value) for r in rows
            )
        # runs (its month differs: the Citus side's `collect` adds the current month's lines)
        assert focus.default_period(conn) is not None
        for module, name in (
            ("tenantcost.web", "replay_plans"),
            ("tenantcost.tiers", "free_abuse"),
        ):
            rows = conn.execute(queries(module)[name], {"threshold": 2}).fetchall()
            out[name] = sorted(json.dumps(r, sort_keys=True, default=_value) for r in rows)
    return out


@needs_citus
def test_every_report_on_the_distributed_application_equals_the_local_run(
    citus_url: str, empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same month of the same application, once on plain PostgreSQL and once distributed
    (companies by id, tenant tables by tenant_id, VPS/IPs as reference tables), with
    tenantcost installed into each: every report of the month is the same, figure for figure
    (ids included: the rows are the same rows)."""
    local = _month_on(empty_url, monkeypatch, local_schema())
    distributed = _month_on(citus_url, monkeypatch, APP_SCHEMA)
    assert local["health"] and {r["company_name"] for r in local["health"]} == {
        "Acme", "Beta", "Calm",
    }  # fmt: skip
    for name, rows in local.items():
        assert distributed[name] == rows, name
    # and the figures are the month's, by hand: Acme's VPS 10.00 + its IP at the 4.99 constant;
    # 2 GB all month at the book's GB-month rate; 120.5 s x (1 + h/24) CPU-seconds each hour h
    # of the day: 30 days x (24 + 276/24) x 120.5 = 128,332.5 vCPU-seconds at the book's rate
    from tenantcost.pricing.book import find_price_book

    rates = find_price_book("railway-2025-11").rates
    acme = next(r for r in local["tenant-costs"] if r["company_name"] == "Acme")
    assert Decimal(acme["vps_and_ips"]) == Decimal("14.99")
    assert Decimal(acme["storage"]) == (2 * rates.storage_gb_month).quantize(Decimal("0.000001"))
    compute = Decimal("128332.5") * rates.vcpu_per_second
    assert Decimal(acme["compute"]) == compute.quantize(Decimal("0.000001"))


@needs_citus
def test_the_demo_fleet_loads_into_the_distributed_application(citus_url: str) -> None:
    """`demo load` on the distributed application: payments and analytics take their
    subscription's tenant (the distribution column) and every row lands."""
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute(APP_SCHEMA)
    load_demo_into(citus_url)


# ------------------------------------------------------- db distribute, both install orders

ORDERS = {
    "application distributed first": APP_SCHEMA,
    "tables local, then db distribute": local_schema(),
}
#: what `db distribute` places of tenantcost's own tables (docs/citus.md, "The plan")
OWN_DISTRIBUTED = (
    "tenant_usage_hourly", "tenant_usage_daily", "tenant_cost_daily", "tenant_cost_ledger",
    "tenant_cost_hourly", "tenant_period_figures", "telemetry_app_events", "tier_decisions",
    "tier_state", "tenant_signups",
)  # fmt: skip
OWN_REFERENCE = ("tenant_mapping", "subscription_addons", "subscription_terms", "cost_settings")


def _acl(url: str, relation: str) -> tuple[Any, Any]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT ARRAY(SELECT unnest(relacl)::text ORDER BY 1), reloptions,"
            " obj_description(oid, 'pg_class') FROM pg_class WHERE relname = %s",
            (relation,),
        ).fetchone()
    assert row is not None and row[0], relation
    return row[0], (row[1], row[2])


@needs_citus
@pytest.mark.parametrize("order", list(ORDERS))
def test_db_distribute_places_tenantcosts_own_tables_in_both_install_orders(
    citus_url: str, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    """`db upgrade` then `db distribute`, the application distributed before the install or
    still local: no blocker, every table placed and co-located, `db verify` passing (all but
    the audit of reference-table cost changes, which Citus cannot keep: docs/citus.md), the IP
    pricing default, the recreated views with their grants, and tenant isolation for a plain
    LOGIN role."""
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute(ORDERS[order])
        conn.execute(APP_ROWS)
    migrate.upgrade(citus_url)
    view_before = _acl(citus_url, "executive_business_summary")

    code, dry = _cli(citus_url, monkeypatch, "distribute", "--dry-run", "--format", "csv")
    assert code == 0, dry
    assert "blocker" not in dry
    assert "SELECT create_reference_table('tenant_mapping');" in dry
    assert 'DROP TRIGGER "tenantcost_usage_days_insert" ON "tenant_usage_hourly";' in dry
    code, output = _cli(citus_url, monkeypatch, "distribute")
    assert code == 0, output

    placed = _placements(citus_url)
    group = placed["companies"][2]
    for table in OWN_DISTRIBUTED:
        assert placed[table] == ("h", "tenant_id", group), table
    for table in OWN_REFERENCE:
        assert placed[table][0] == "n", table
    code, again = _cli(citus_url, monkeypatch, "distribute")
    assert code == 0 and "0 statement(s)" in again
    code, output = _cli(citus_url, monkeypatch, "verify", "--format", "json")
    checks = {c["check"]: c["status"] for c in json.loads(output)}
    assert {n for n, s in checks.items() if s == "FAIL"} == {"Citus: cost changes audited"}
    assert all(checks[f"Citus: {t} distributed"] == "PASS" for t in OWN_DISTRIBUTED)
    assert all(checks[f"Citus: {t} reference"] == "PASS" for t in OWN_REFERENCE)
    assert checks["Citus: every table keyed by tenant_id distributed"] == "PASS"
    assert checks["Citus: tenant tables co-located"] == "PASS"
    # the views over tenant_period_figures' rows came back as they were
    assert _acl(citus_url, "executive_business_summary") == view_before

    with psycopg.connect(citus_url, autocommit=True) as conn:
        triggers = conn.execute(
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN"
            " ('smtp_ip_addresses'::regclass, 'tenant_usage_hourly'::regclass)"
        ).fetchone()
        assert triggers == (0,)
        # a new IP takes the constant from its column default (the trigger's Citus form)
        conn.execute(
            "INSERT INTO smtp_ip_addresses (id, vps_instance_id, status) VALUES (%s, %s, 'active')",
            (uuid.UUID(int=0xF9), VPS_SHARED),
        )
        ip = conn.execute(
            "SELECT approximate_cost, cost_source FROM smtp_ip_addresses WHERE id = %s",
            (uuid.UUID(int=0xF9),),
        ).fetchone()
        assert ip == (Decimal("4.99"), "setting")
        conn.execute("DELETE FROM smtp_ip_addresses WHERE id = %s", (uuid.UUID(int=0xF9),))
        conn.execute("UPDATE vps_instances SET tenant_id = %s WHERE id = %s", (ACME, VPS_A))
        conn.execute("INSERT INTO tenant_mapping (tenant_id, kind) VALUES (%s, 'shared')", (BETA,))

    # tenant isolation for a plain LOGIN role (SET LOCAL in a transaction)
    with psycopg.connect(citus_url, autocommit=True) as conn:
        key = read_key(conn)
    tables = ("companies", "subscriptions", "payments", "billing_analytics", "smtp_ip_addresses")
    with app_login(citus_url) as as_app, psycopg.connect(as_app) as conn:
        for tenant, expected in ((ACME, (1, 1, 1, 1, 1)), (BETA, (1, 1, 0, 0, 0))):
            with conn.transaction():
                set_tenant(conn, key, tenant)
                seen = tuple(
                    conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                    for t in tables
                )
            assert seen == expected, tenant
        with conn.transaction():
            conn.execute(f"SET LOCAL app.current_tenant_id = '{ACME}'")  # unsigned
            assert conn.execute("SELECT count(*) FROM payments").fetchone() == (0,)


@needs_citus
def test_usage_written_on_citus_marks_its_day_and_the_day_is_repriced(citus_url: str) -> None:
    """No priced-days trigger on the distributed evidence: tenantcost's writers mark the
    days they change (here the application's events, through the recorder's sink, and a
    collector pass), and the next pricing re-prices that day with the new usage."""
    from tenantcost.attribution.ledger import days_to_price, price_day_range, pricing_params
    from tenantcost.pricing.book import find_price_book
    from tenantcost.pricing.store import import_book
    from tenantcost.telemetry.tagging import AppEvent, PostgresSink

    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute(local_schema())
        conn.execute(APP_ROWS)
    migrate.upgrade(citus_url)
    with connect(citus_url) as conn:
        from tenantcost.db import citus

        citus.apply(conn, citus.plan(citus.read_facts(conn)).statements)
    hour = datetime(2025, 11, 10, 9, tzinfo=UTC)
    day = hour.date()
    book = find_price_book("railway-2025-11")
    with connect(citus_url, autocommit=True) as conn:
        import_book(conn, book)
        conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (hour,))
        pricing = pricing_params(conn, get_settings())
        price_day_range(conn, day, day, pricing=pricing)  # priced, with no usage yet
        assert days_to_price(conn, hour, hour + timedelta(hours=1), pricing) == []
    sink = PostgresSink(citus_url)
    event = AppEvent("test-src", "e-1", ACME, hour, 10, Decimal("12.5"), 100, 2048)
    try:
        assert sink.write([event]) == 1
        assert sink.write([event]) == 0  # the same event again: counted once
    finally:
        sink.close()
    with connect(citus_url, autocommit=True) as conn:
        assert days_to_price(conn, hour, hour + timedelta(hours=1), pricing) == [day]
        price_day_range(conn, day, day, pricing=pricing)
        rows = conn.execute(
            "SELECT tenant_id, quantity, amount FROM tenant_cost_daily"
            " WHERE day = %s AND driver = 'compute'",
            (day,),
        ).fetchall()
        # 12.5 CPU-seconds of ACME's, the only source: x the book's price per vCPU-second
        amount = (Decimal("12.5") * book.rates.vcpu_per_second).quantize(Decimal(10) ** -12)
        assert [tuple(r.values()) for r in rows] == [(ACME, Decimal("12.5"), amount)]
        assert days_to_price(conn, hour, hour + timedelta(hours=1), pricing) == []
        # a collector pass writes the current hour: its day is marked too
        Collector(conn, measure_host=False).collect()
        today = datetime.now(UTC)
        marked = conn.execute(
            "SELECT day FROM tenant_usage_changed_days WHERE day = %s", (today.date(),)
        ).fetchall()
        written = conn.execute(
            "SELECT count(*) AS n FROM tenant_usage_hourly WHERE hour >= %s",
            (today.replace(hour=0, minute=0, second=0, microsecond=0),),
        ).fetchone()
    assert written is not None and written["n"] > 0  # the shard share of companies' rows
    assert marked == [{"day": today.date()}]


@needs_citus
@pytest.mark.parametrize("order", list(ORDERS))
def test_reports_after_db_distribute_equal_the_local_run(
    citus_url: str, empty_url: str, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    """The same month with evidence of no tenant too, on plain PostgreSQL and on Citus with
    tenantcost's own tables distributed (both install orders), `collect` run there: every
    report of the month equal row for row, and the unattributed compute where it belongs."""
    local = _month_on(empty_url, monkeypatch, local_schema(), extra=MONTH_UNATTRIBUTED)
    placed = _month_on(
        citus_url, monkeypatch, ORDERS[order], distribute=True, extra=MONTH_UNATTRIBUTED
    )
    assert _placements(citus_url)["tenant_cost_ledger"][:2] == ("h", "tenant_id")
    for name, rows in local.items():
        assert placed[name] == rows, name
    # 120 six-hour steps of 7.25 CPU-seconds: 870 s of no tenant's, on the unattributed line
    with psycopg.connect(citus_url) as conn:
        row = conn.execute(
            "SELECT sum(quantity), count(*) FILTER (WHERE tenant_id IS NULL) FROM"
            " tenant_cost_daily WHERE line = 'unattributed' AND driver = 'compute'"
        ).fetchone()
    assert row == (Decimal("870.00"), 0)
    from tenantcost.pricing.book import find_price_book

    # priced per day (4 x 7.25 = 29 s, the amount rounded to 12 places), 30 days
    unattributed = [r for r in local["cost-drivers"] if r["line"] == "unattributed"]
    rate = find_price_book("railway-2025-11").rates.vcpu_per_second
    day = (29 * rate).quantize(Decimal(10) ** -12, ROUND_HALF_UP)
    assert [(r["key"], Decimal(r["amount"])) for r in unattributed] == [
        ("compute", (30 * day).quantize(Decimal("0.000001")))
    ]
