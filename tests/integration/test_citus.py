"""``db distribute`` and migrations on a real Citus cluster (coordinator + workers).

Set TENANTCOST_TEST_CITUS_URL to a database on a Citus coordinator whose workers are added
(``citus_add_node``); each test makes its own database on the coordinator and every worker.
Without it only the tests at the bottom run (on the embedded PostgreSQL, which has no Citus).
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from typer.testing import CliRunner

from tenantcost.cli import app
from tenantcost.config import get_settings
from tenantcost.db import migrate
from tenantcost.db.citus import check_placement
from tenantcost.db.connect import connect
from tenantcost.telemetry.collector import Collector
from tests import pg15

pytestmark = pytest.mark.db
CITUS_URL = os.environ.get("TENANTCOST_TEST_CITUS_URL")
needs_citus = pytest.mark.skipif(
    not CITUS_URL,
    reason="TENANTCOST_TEST_CITUS_URL is not set: point it at a Citus coordinator with its "
    "workers added to run the Citus tests (docs/citus.md)",
)

APP_SCHEMA = """
SET citus.multi_shard_modify_mode TO 'sequential';
CREATE TABLE companies (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE plans (id uuid PRIMARY KEY, name text NOT NULL, price_monthly numeric(10,2) NOT NULL);
CREATE TABLE subscriptions (id uuid NOT NULL, tenant_id uuid NOT NULL, plan_id uuid NOT NULL,
    status text NOT NULL, current_period_start timestamptz NOT NULL,
    current_period_end timestamptz NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE payments (id uuid NOT NULL, tenant_id uuid NOT NULL, subscription_id uuid NOT NULL,
    amount numeric(12,2) NOT NULL, billing_period_start timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id));
CREATE TABLE billing_analytics (id uuid NOT NULL, tenant_id uuid NOT NULL,
    subscription_id uuid NOT NULL, period_start timestamptz NOT NULL,
    emails_sent bigint NOT NULL DEFAULT 0, PRIMARY KEY (tenant_id, id));
CREATE TABLE vps_instances (id uuid PRIMARY KEY, name text, status text NOT NULL);
CREATE TABLE smtp_ip_addresses (id uuid PRIMARY KEY, vps_instance_id uuid, ip_address text,
    status text NOT NULL);
SELECT create_distributed_table('companies', 'id');
SELECT create_distributed_table('subscriptions', 'tenant_id', colocate_with => 'companies');
SELECT create_distributed_table('payments', 'tenant_id', colocate_with => 'companies');
SELECT create_distributed_table('billing_analytics', 'tenant_id', colocate_with => 'companies');
SELECT create_reference_table('plans');
SELECT create_reference_table('vps_instances');
SELECT create_reference_table('smtp_ip_addresses');
ALTER TABLE subscriptions ADD FOREIGN KEY (tenant_id) REFERENCES companies (id);
ALTER TABLE subscriptions ADD FOREIGN KEY (plan_id) REFERENCES plans (id);
ALTER TABLE payments ADD FOREIGN KEY (tenant_id, subscription_id)
    REFERENCES subscriptions (tenant_id, id);
"""


def _on(url: str, *, host: str | None = None, port: int | None = None, dbname: str = "") -> str:
    """The same URL (user, password) on another node or database."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if host is not None:
        credentials = netloc.rpartition("@")[0]
        netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    path = f"/{dbname}" if dbname else parts.path
    return urlunsplit(parts._replace(netloc=netloc, path=path))


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


@needs_citus
def test_migrations_install_into_a_distributed_application_one_statement_at_a_time(
    citus_url: str,
) -> None:
    """Revision 0001 creates indexes on distributed tables: Citus forwards each to every
    worker and refused the whole file as one multi-command string."""
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute(APP_SCHEMA)
    migrate.upgrade(citus_url, "0003")
    assert migrate.current_revision(citus_url) == "0003"
    with psycopg.connect(citus_url) as conn:
        per_worker = conn.execute(
            "SELECT result FROM run_command_on_workers($$SELECT count(*) FROM pg_indexes "
            "WHERE indexname LIKE 'idx_tc_subscriptions_tenant%'$$)"
        ).fetchall()
    assert per_worker and all(int(r[0]) > 0 for r in per_worker)  # the shards' indexes


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
