"""The backend CPU sampler against the real embedded server and the real /proc: a database
tenant, a tagged shared-database tenant switching on one pooled connection, an idle tenant,
background CPU, and the collector writing it all as source backend_sampler."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any
from uuid import UUID

import psutil
import psycopg
import pytest

from tenantcost.db import NO_TENANT
from tenantcost.db.connect import Connection
from tenantcost.telemetry.collector import Collector
from tenantcost.telemetry.mapping import map_tenant
from tenantcost.telemetry.sampler import local_sampler
from tenantcost.telemetry.tagging import Recorder, tagged_connect, tenant
from tests.integration.test_telemetry_collector import cli_app, company

pytestmark = pytest.mark.db


@pytest.fixture
def conn(migrated_conn: Connection) -> Connection:
    migrated_conn.autocommit = True  # the sampler's own connection must see the mapping
    return migrated_conn


WORK = "SELECT count(*) FROM generate_series(1, 400000)"


def sampled(conn: Connection, tenant_id: UUID | None, metric: str = "compute_seconds") -> Decimal:
    row: Any = conn.execute(
        "SELECT coalesce(sum(quantity), 0) AS q FROM tenant_usage_hourly "
        "WHERE tenant_id = %s AND metric = %s AND source = 'backend_sampler'",
        (NO_TENANT if tenant_id is None else tenant_id, metric),  # no tenant: revision 0027
    ).fetchone()
    return Decimal(row["q"])


def backend_cpu(pid: int) -> Decimal:
    """Ground truth by another code path (psutil): the backend's user + system time."""
    times = psutil.Process(pid).cpu_times()
    return Decimal(repr(times.user + times.system))


def test_sampler_attributes_kernel_cpu_per_tenant(
    conn: Connection, admin_url: str, migrated_url: str
) -> None:
    db_name = f"tc_sampler_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db_name}"')
    a, b, c, idle = (company(conn, n) for n in ("Alpha", "Beta", "Gamma", "Idle"))
    map_tenant(conn, str(a), "database", db_name)
    map_tenant(conn, str(b), "shared", None)
    map_tenant(conn, str(c), "shared", None)
    map_tenant(conn, str(idle), "shared", None)

    sampler = local_sampler(conn, interval=0.2)
    assert sampler.start(), sampler.unavailable
    collector = Collector(conn, interval_s=60, sampler=sampler)
    baseline = collector.collect()
    assert baseline.compute_source == "backend_sampler"

    db_url = migrated_url.rsplit("/", 1)[0] + "/" + db_name
    recorder = Recorder(None, background=False)
    with (
        psycopg.connect(db_url, autocommit=True) as ca,
        tagged_connect(migrated_url, recorder, autocommit=True) as pooled,
    ):
        pid_a, pid_pooled = ca.info.backend_pid, pooled.info.backend_pid
        start_a, start_pooled = backend_cpu(pid_a), backend_cpu(pid_pooled)
        for _ in range(6):
            ca.execute(WORK)
        # one pooled connection serves B then C: the tag follows the tenant
        with tenant(b):
            for _ in range(4):
                pooled.execute(WORK)
            assert pooled.info.parameter_status("application_name") == f"tc:{b}"
        truth_b = backend_cpu(pid_pooled) - start_pooled
        sampler.tick()  # the tenant changes between two samples
        with tenant(c):
            for _ in range(2):
                pooled.execute(WORK)
        truth_a = backend_cpu(pid_a) - start_a
        truth_c = backend_cpu(pid_pooled) - start_pooled - truth_b
        sampler.stop()  # the final tick, while the sessions are still open
        pooled.execute("SELECT 1")  # untagged: the tag is cleared
        assert pooled.info.parameter_status("application_name") == ""
    report = collector.collect()
    assert report.compute_source == "backend_sampler"
    assert "backend sampler" in report.sources["compute"]
    got_a, got_b, got_c = sampled(conn, a), sampled(conn, b), sampled(conn, c)
    # psutil reads clock ticks (10 ms): allow 30 ms per backend plus 5 % either way
    for got, truth in ((got_a, truth_a), (got_b, truth_b), (got_c, truth_c)):
        assert truth > Decimal("0.05")
        assert abs(got - truth) <= Decimal("0.03") + truth * Decimal("0.05"), (got, truth)
    assert sampled(conn, idle) == 0
    assert sampled(conn, None, "background_cpu_seconds") > 0
    assert report.sampler["ticks"] >= 1
    # the usage view picks the sampler over execution time for A
    row: Any = conn.execute(
        "SELECT source FROM tenant_usage_hourly WHERE tenant_id = %s AND metric = "
        "'compute_seconds' ORDER BY (SELECT priority FROM telemetry_metrics m "
        "WHERE m.metric = tenant_usage_hourly.metric AND m.source = tenant_usage_hourly.source) "
        "LIMIT 1",
        (a,),
    ).fetchone()
    assert row["source"] == "backend_sampler"


def test_collector_without_sampler_says_which_source(conn: Connection) -> None:
    report = Collector(conn, interval_s=60).collect()
    assert report.compute_source == "pg_stat_statements"
    assert "no backend sampler" in report.sources["compute"]


def test_collect_cli_sample_for(use_database: str, conn: Connection) -> None:
    import json

    from typer.testing import CliRunner

    runner = CliRunner()
    result = runner.invoke(
        cli_app(), ["collect", "--sample-for", "1s", "--no-price", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout[result.stdout.index("[") :])
    lines = {r["tenant"]: r for r in rows}
    assert lines["(background)"]["compute_source"] == "backend_sampler"
    assert lines["(unattributed)"]["compute_source"] == "backend_sampler"
    run: Any = conn.execute(
        "SELECT summary FROM telemetry_runs ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert run["summary"]["compute_source"] == "backend_sampler"
    assert run["summary"]["sampler"]["ticks"] >= 1
    bad = runner.invoke(cli_app(), ["collect", "--sample-for", "1s", "--every", "5s"])
    assert bad.exit_code == 2 and "--sample-for" in bad.output
    bad = runner.invoke(cli_app(), ["collect", "--sample-for", "soon"])
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_backend_tag_follows_tenant_switches_and_rollbacks(migrated_url: str) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    recorder = Recorder(None, background=False)
    with (
        tagged_connect(migrated_url, recorder, application_name="api") as c,
        psycopg.connect(migrated_url, autocommit=True) as watcher,
    ):

        def seen() -> str:
            row = watcher.execute(
                "SELECT application_name FROM pg_stat_activity WHERE pid = %s",
                (c.info.backend_pid,),
            ).fetchone()
            return str(row[0]) if row else ""

        with tenant(a):
            c.execute("SELECT 1")
        c.commit()
        assert seen() == f"api tc:{a}"
        with tenant(b):  # the SET is part of this transaction, which is rolled back
            c.execute("SELECT 1")
            assert c.info.parameter_status("application_name") == f"api tc:{b}"
        c.rollback()
        assert c.info.parameter_status("application_name") == f"api tc:{a}"  # restored
        with tenant(b):  # noticed: tagged again
            c.execute("SELECT 1")
        c.commit()
        assert seen() == f"api tc:{b}"
        c.execute("SELECT 1")  # no tenant: back to the application's own name
        c.commit()
        assert seen() == "api"
