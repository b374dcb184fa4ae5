"""`costs sync-vps` / `costs reconcile` commands (sync_cli) end to end: settings, DB, fake API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from tenantcost.config import get_settings
from tenantcost.costs.sync_cli import reconcile_command, sync_vps_command
from tenantcost.errors import UserError
from tenantcost.providers.fake_hostwinds import FakeHostwinds, FakeService

pytestmark = pytest.mark.db
runner = CliRunner()
KEY = "cli-test-key-5531"

# The lead registers these in costs/cli.py; the test registers them the same way.
app = typer.Typer()
app.command("sync-vps")(sync_vps_command)
app.command("reconcile")(reconcile_command)


@pytest.fixture
def fake(use_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHostwinds]:
    services = [FakeService("1001", "uvps-1", "monthly"), FakeService("1002", "uvps-2", "annually")]
    with FakeHostwinds(services=services, api_key=KEY) as server:
        monkeypatch.setenv("TENANTCOST_HOSTWINDS_API_URL", server.url)
        monkeypatch.setenv("TENANTCOST_HOSTWINDS_API_KEY", KEY)
        monkeypatch.setenv("TENANTCOST_HOSTWINDS_RETRIES", "1")
        monkeypatch.setenv("TENANTCOST_HOSTWINDS_TIMEOUT", "2")
        get_settings.cache_clear()
        with psycopg.connect(use_database, autocommit=True) as conn:
            conn.execute(
                """INSERT INTO vps_instances (name, hostwinds_service_id, hostwinds_plan_id,
                                              billing_cycle)
                   VALUES ('mail-1', '1001', 'uvps-1', 'monthly'),
                          ('mail-2', '1002', 'uvps-2', 'annually')"""
            )
        yield server
    get_settings.cache_clear()


def stored(url: str) -> dict[str, Decimal]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT name, approximate_cost FROM vps_instances").fetchall()
    return {name: cost for name, cost in rows}


def test_sync_all_json(fake: FakeHostwinds, use_database: str) -> None:
    result = runner.invoke(app, ["sync-vps", "--all", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["name"]: (r["status"], r["new_monthly"]) for r in rows} == {
        "mail-1": ("changed", "9.99"),  # 9.99 / 1
        "mail-2": ("changed", "16.14"),  # 193.68 / 12
    }
    assert stored(use_database) == {"mail-1": Decimal("9.99"), "mail-2": Decimal("16.14")}
    assert KEY not in result.output


def test_dry_run_table_then_reconcile_csv(fake: FakeHostwinds, use_database: str) -> None:
    dry = runner.invoke(app, ["sync-vps", "--instance", "mail-2", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.stdout and "16.14" in dry.stdout
    assert stored(use_database) == {"mail-1": Decimal("0.00"), "mail-2": Decimal("0.00")}

    first = runner.invoke(app, ["reconcile", "--format", "csv"])
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[0].startswith("id,name,service_id,status")
    again = runner.invoke(app, ["reconcile", "--format", "csv"])
    assert [line.split(",")[3] for line in again.stdout.splitlines()[1:]] == ["unchanged"] * 2


def test_api_down_exits_1_and_keeps_values(fake: FakeHostwinds, use_database: str) -> None:
    fake.fail_next(100, status=503)
    result = runner.invoke(app, ["sync-vps", "--all", "--format", "json"])
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert "HTTP 503" in rows[0]["reason"]
    assert "2 instance(s) failed" in result.stderr
    table = runner.invoke(app, ["sync-vps", "--all"])
    assert table.exit_code == 1
    assert "mail-1" in table.stdout and "mail-2" in table.stdout  # the failed-instances table
    assert stored(use_database) == {"mail-1": Decimal("0.00"), "mail-2": Decimal("0.00")}


def test_instance_or_all_is_required(fake: FakeHostwinds) -> None:
    neither = runner.invoke(app, ["sync-vps"])
    assert isinstance(neither.exception, UserError)
    assert "--instance ID or --all" in str(neither.exception)
    both = runner.invoke(app, ["sync-vps", "--all", "--instance", "mail-1"])
    assert isinstance(both.exception, UserError)
    assert fake.request_count == 0


def test_missing_key_is_a_user_error(fake: FakeHostwinds, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANTCOST_HOSTWINDS_API_KEY")
    get_settings.cache_clear()
    result = runner.invoke(app, ["reconcile"])
    assert isinstance(result.exception, UserError)
    assert "TENANTCOST_HOSTWINDS_API_KEY" in str(result.exception)
