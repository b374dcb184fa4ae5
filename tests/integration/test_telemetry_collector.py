"""The collector on the real embedded server: per-database and per-role tenants,
idempotent re-collection, statement stats unavailable, tagging and its sink, the CLI."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from tenantcost.cli import TenantcostGroup
from tenantcost.db.connect import Connection, connect
from tenantcost.telemetry.collector import Collector
from tenantcost.telemetry.mapping import map_tenant
from tenantcost.telemetry.metrics import METRICS
from tenantcost.telemetry.tagging import PostgresSink, Recorder, tagged_connect, tenant

pytestmark = pytest.mark.db


def url_for(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + database


@pytest.fixture
def conn(migrated_url: str) -> Iterator[Connection]:
    with connect(migrated_url, autocommit=True) as c:
        yield c


def company(conn: Connection, name: str) -> UUID:
    row: Any = conn.execute(
        "INSERT INTO companies (name) VALUES (%s) RETURNING id", (name,)
    ).fetchone()
    return UUID(str(row["id"]))


def usage(conn: Connection, tenant_id: UUID, metric: str, source: str) -> Decimal:
    row: Any = conn.execute(
        "SELECT coalesce(sum(quantity), 0) AS q FROM tenant_usage_hourly "
        "WHERE tenant_id = %s AND metric = %s AND source = %s",
        (tenant_id, metric, source),
    ).fetchone()
    return Decimal(row["q"])


def run_queries(url: str, count: int) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        for _ in range(count):
            c.execute("SELECT count(*) FROM generate_series(1, 1000)")


def test_statement_deltas_for_a_database_tenant_and_a_role_tenant(
    conn: Connection, admin_url: str, migrated_url: str
) -> None:
    suffix = uuid.uuid4().hex[:10]
    db_name, role_name = f"tc_tenant_db_{suffix}", f"tc_tenant_role_{suffix}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db_name}"')
        admin.execute(f"CREATE ROLE \"{role_name}\" LOGIN PASSWORD 'pw-{suffix}'")
    try:
        a, b = company(conn, "Alpha"), company(conn, "Beta")
        assert map_tenant(conn, "Alpha", "database", db_name)[0] == "mapped"
        assert map_tenant(conn, str(b), "role", role_name)[0] == "mapped"
        collector = Collector(conn, interval_s=60)
        first = collector.collect()
        assert any("baseline" in w for w in first.warnings)

        run_queries(url_for(migrated_url, db_name), 7)
        role_url = migrated_url.replace("postgresql://postgres:", f"postgresql://{role_name}:")
        role_url = (
            role_url.split(":", 2)[0] + f"://{role_name}:pw-{suffix}@" + role_url.split("@", 1)[1]
        )
        run_queries(role_url, 5)
        second = collector.collect()
        assert "pg_stat_statements" in second.sources["statements"]
        assert usage(conn, a, "query_count", "pg_stat_statements") == 7
        assert usage(conn, b, "query_count", "pg_stat_statements") == 5
        assert usage(conn, a, "compute_seconds", "pg_stat_statements") > 0
        assert usage(conn, a, "storage_bytes", "database_size") > 0

        # Collecting again straight away adds nothing for these tenants.
        before = {
            (t, m): usage(conn, t, m, "pg_stat_statements")
            for t in (a, b)
            for m in ("query_count", "compute_seconds")
        }
        collector.collect()
        after = {
            (t, m): usage(conn, t, m, "pg_stat_statements")
            for t in (a, b)
            for m in ("query_count", "compute_seconds")
        }
        assert after == before
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{role_name}"')


def test_a_failed_pass_adds_nothing_and_the_next_pass_counts_once(
    conn: Connection, admin_url: str, migrated_url: str
) -> None:
    db_name = f"tc_tenant_db_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db_name}"')
    try:
        a = company(conn, "Gamma")
        map_tenant(conn, str(a), "database", db_name)
        collector = Collector(conn)
        collector.collect()
        run_queries(url_for(migrated_url, db_name), 3)
        original = collector._write_usage

        def boom(report: Any) -> None:
            original(report)
            raise RuntimeError("disk full")

        collector._write_usage = boom  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            collector.collect()
        assert usage(conn, a, "query_count", "pg_stat_statements") == 0  # rolled back
        collector._write_usage = original  # type: ignore[method-assign]
        collector.collect()
        assert usage(conn, a, "query_count", "pg_stat_statements") == 3
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def test_statement_stats_unavailable_is_reported_not_a_crash(conn: Connection) -> None:
    conn.execute("DROP EXTENSION pg_stat_statements")
    report = Collector(conn).collect()
    assert report.sources["statements"].startswith("unavailable")
    assert any("pg_stat_statements" in w for w in report.warnings)


def test_python_metric_catalogue_matches_the_migration(conn: Connection) -> None:
    rows = conn.execute(
        "SELECT metric, source, unit, kind, aggregate, priority FROM telemetry_metrics"
    ).fetchall()
    in_db = {
        (r["metric"], r["source"]): (r["unit"], r["kind"], r["aggregate"], r["priority"])
        for r in rows
    }
    assert in_db == {key: tuple(info) for key, info in METRICS.items()}


def test_partitions_are_created_and_old_ones_dropped(conn: Connection) -> None:
    """Revision 0020: one partition per UTC day of the month; a pass rolls days past the
    hourly window up and drops their partitions."""
    name = conn.execute("SELECT tenantcost_ensure_usage_partition('2020-01-15T00:00:00Z') AS p")
    assert name.fetchone()["p"] == "tenant_usage_hourly_y2020m01d15"  # type: ignore[index]
    conn.execute("SELECT tenantcost_ensure_usage_partition('2020-01-20T00:00:00Z')")  # idempotent
    parts = conn.execute(
        "SELECT count(*) AS n FROM pg_class WHERE relkind = 'r' "
        "AND relname ~ '^tenant_usage_hourly_y2020m01d[0-9]{2}$'"
    ).fetchone()
    assert parts["n"] == 31  # type: ignore[index]
    report = Collector(conn).collect()
    parts = conn.execute(
        "SELECT count(*) AS n FROM pg_class WHERE relkind = 'r' "
        "AND relname ~ '^tenant_usage_hourly_y2020m01'"
    ).fetchone()
    assert parts["n"] == 0  # type: ignore[index]
    assert any("retention" in w and "31 hourly partition(s)" in w for w in report.warnings)
    # Rolled-up days before the day asked for get no partition again; that day does (a bulk
    # load writing it again).
    conn.execute("SELECT tenantcost_ensure_usage_partition('2020-01-20T00:00:00Z')")
    for day, exists in (("15", False), ("20", True)):
        row = conn.execute(f"SELECT to_regclass('tenant_usage_hourly_y2020m01d{day}') AS r")
        assert (row.fetchone()["r"] is not None) is exists  # type: ignore[index]


def test_tagged_queries_reach_the_rollup_once(conn: Connection, migrated_url: str) -> None:
    a = company(conn, "Delta")
    map_tenant(conn, str(a), "shared", None)
    recorder = Recorder(PostgresSink(migrated_url), background=False, source_id="test-src")
    with tagged_connect(migrated_url, recorder, autocommit=True) as app:
        with tenant(a):
            for _ in range(4):
                row = app.execute("SELECT repeat('x', 10) AS v").fetchone()
                assert row == ("x" * 10,)
        app.execute("SELECT 1")  # untagged: not counted
    assert recorder.flush()
    assert usage(conn, a, "query_count", "app") == 4
    assert usage(conn, a, "egress_bytes", "app") == 40  # 4 results x 10 bytes
    # Re-sending the same batch (a lost acknowledgement) adds nothing.
    rows = conn.execute(
        "SELECT * FROM telemetry_app_events WHERE source_id = 'test-src'"
    ).fetchall()
    from tenantcost.telemetry.tagging import AppEvent

    events = [
        AppEvent(
            r["source_id"],
            r["event_id"],
            r["tenant_id"],
            r["hour"],
            r["queries"],
            r["exec_seconds"],
            r["rows"],
            r["result_bytes"],
        )
        for r in rows
    ]
    sink = PostgresSink(migrated_url)
    try:
        assert sink.write(events) == 0
    finally:
        sink.close()
    assert usage(conn, a, "query_count", "app") == 4
    recorder.close()


def test_sink_down_app_queries_still_succeed(migrated_url: str) -> None:
    dead = "postgresql://nobody:pw@127.0.0.1:1/none"  # nothing listens on port 1
    recorder = Recorder(PostgresSink(dead, connect_timeout=1), background=False)
    a = uuid.uuid4()
    with tagged_connect(migrated_url, recorder, autocommit=True) as app, tenant(a):
        assert app.execute("SELECT 41 + 1").fetchone() == (42,)
        assert app.execute("SELECT 2").fetchone() == (2,)
    assert recorder.flush() is False
    stats = recorder.stats()
    assert stats.recorded_queries == 2 and stats.failed_flushes == 1
    assert stats.pending_events == 1 and stats.last_error
    recorder.close(timeout=1)


def test_sqlalchemy_engine_hook_counts_tagged_queries(conn: Connection, migrated_url: str) -> None:
    import sqlalchemy

    from tenantcost.db.migrate import engine_for
    from tenantcost.telemetry.tagging import instrument_engine

    a = company(conn, "Epsilon")
    recorder = Recorder(PostgresSink(migrated_url), background=False)
    engine = engine_for(migrated_url)
    instrument_engine(engine, recorder, comment=True)
    try:
        with engine.connect() as c:
            with tenant(a):
                assert c.execute(sqlalchemy.text("SELECT 'abcd'")).scalar() == "abcd"
                c.execute(sqlalchemy.text("SELECT 1"))
            c.execute(sqlalchemy.text("SELECT 2"))  # untagged
    finally:
        engine.dispose()
    recorder.close()
    assert usage(conn, a, "query_count", "app") == 2
    assert usage(conn, a, "egress_bytes", "app") == 5  # 'abcd' (4) + '1' (1)


def cli_app() -> typer.Typer:
    from tenantcost.telemetry.cli import collect_command, tenants_app

    app = typer.Typer(cls=TenantcostGroup)
    app.add_typer(tenants_app, name="tenants")
    app.command("collect")(collect_command)
    return app


def test_tenants_cli_map_list_unmap(use_database: str, conn: Connection) -> None:
    a = company(conn, "Zeta Corp")
    runner = CliRunner()
    app = cli_app()
    result = runner.invoke(app, ["tenants", "map", "Zeta Corp", "--schema", "public"])
    assert result.exit_code == 0, result.output
    assert "mapped: Zeta Corp" in result.output
    result = runner.invoke(app, ["tenants", "map", "Zeta Corp", "--schema", "public"])
    assert "unchanged" in result.output
    listed = runner.invoke(app, ["tenants", "list", "--format", "json"])
    assert str(a) in listed.output and '"schema"' in listed.output
    bad = runner.invoke(app, ["tenants", "map", "No Such Co", "--shared"])
    assert bad.exit_code == 2 and "no company named" in bad.output
    both = runner.invoke(app, ["tenants", "map", "Zeta Corp", "--shared", "--role", "x"])
    assert both.exit_code == 2
    missing_db = runner.invoke(app, ["tenants", "map", "Zeta Corp", "--database", "nope_db_x"])
    assert missing_db.exit_code == 2 and "no database named" in missing_db.output
    result = runner.invoke(app, ["tenants", "unmap", str(a)])
    assert result.exit_code == 0 and "unmapped schema public" in result.output
    collected = runner.invoke(app, ["collect", "--no-price", "--format", "json"])
    assert collected.exit_code == 0, collected.output
