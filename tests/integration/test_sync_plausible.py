"""Hostwinds sync (issue 13 item 9): implausible prices refused per VPS, and all or nothing
when Hostwinds fails part-way. Against the fake Hostwinds on 127.0.0.1 and real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from tenantcost.cli import app
from tenantcost.costs.sync import sync_vps
from tenantcost.providers.fake_hostwinds import FakeHostwinds, FakeService
from tenantcost.providers.hostwinds import HostwindsClient
from tests.integration.test_sync_vps import KEY, Conn, add_vps, audit, costs

pytestmark = pytest.mark.db
BOUNDS = (Decimal("0.50"), Decimal(10000))


@pytest.fixture
def fake() -> Iterator[FakeHostwinds]:
    # Each VPS has its own service with its own monthly price (a bare billing-cycle price).
    services = [
        FakeService(f"20{n:02d}", None, "monthly", prices={"monthly": "9.99"}) for n in range(6)
    ]
    with FakeHostwinds(services=services, api_key=KEY) as server:
        yield server


@pytest.fixture
def client(fake: FakeHostwinds) -> Iterator[HostwindsClient]:
    with HostwindsClient(fake.url, KEY, timeout=2.0, retries=2, backoff_base=0.01) as c:
        yield c


@pytest.fixture
def six(migrated_conn: Conn) -> list[str]:
    """Six linked VPS at 5.00 a month, names vps-0 … vps-5 (synced in name order)."""
    return [add_vps(migrated_conn, f"vps-{n}", f"20{n:02d}", None, cost="5.00") for n in range(6)]


def test_implausible_prices_fail_that_vps_only(
    migrated_conn: Conn, fake: FakeHostwinds, client: HostwindsClient, six: list[str]
) -> None:
    fake.add_service(FakeService("2001", None, "monthly", prices={"monthly": "0.001"}))
    fake.add_service(FakeService("2002", None, "monthly", prices={"monthly": "1e30"}))
    fake.add_service(FakeService("2003", None, "monthly", prices={"monthly": "10000.01"}))
    fake.add_service(FakeService("2004", None, "monthly", prices={"monthly": "10000.00"}))
    fake.add_service(FakeService("2005", None, "monthly", prices={"monthly": "0.50"}))
    report = sync_vps(migrated_conn, client, bounds=BOUNDS)
    status = {r.name: (r.status, r.reason) for r in report.results}
    assert status["vps-0"][0] == "changed"  # 9.99, in range
    assert (
        status["vps-1"][0] == "failed" and "below the plausible minimum 0.50" in status["vps-1"][1]
    )
    assert status["vps-2"][0] == "failed" and "implausible" in status["vps-2"][1]
    assert (
        status["vps-3"][0] == "failed" and "above the plausible maximum 10000" in status["vps-3"][1]
    )
    assert status["vps-4"][0] == "changed"  # exactly the maximum is allowed
    assert status["vps-5"][0] == "changed"  # exactly the minimum is allowed
    assert not report.aborted and not report.ok
    assert costs(migrated_conn) == {
        "vps-0": Decimal("9.99"),
        "vps-1": Decimal("5.00"),  # kept: 0.001 would have become 0.00
        "vps-2": Decimal("5.00"),
        "vps-3": Decimal("5.00"),
        "vps-4": Decimal("10000.00"),
        "vps-5": Decimal("0.50"),
    }


def test_outage_part_way_writes_nothing(
    migrated_conn: Conn, fake: FakeHostwinds, client: HostwindsClient, six: list[str]
) -> None:
    fake.fail_after(3, 100, status=503)  # vps-0..2 answer 9.99, then Hostwinds is down
    report = sync_vps(migrated_conn, client, bounds=BOUNDS)
    assert "HTTP 503" in report.aborted
    assert [r.status for r in report.results] == ["failed"] * 6
    assert report.results[0].reason.startswith("not written:")
    assert report.results[4].reason.startswith("not attempted:")
    assert set(costs(migrated_conn).values()) == {Decimal("5.00")}
    assert audit(migrated_conn) == []
    # Once Hostwinds is back, the same sync writes all six.
    fake.reset_faults()
    again = sync_vps(migrated_conn, client, bounds=BOUNDS)
    assert len(again.changed) == 6 and again.ok
    assert set(costs(migrated_conn).values()) == {Decimal("9.99")}


def test_a_malformed_answer_writes_nothing(
    migrated_conn: Conn, fake: FakeHostwinds, client: HostwindsClient, six: list[str]
) -> None:
    fake.malformed_next(1)  # vps-0 gets a body that is not JSON; the other five would answer
    report = sync_vps(migrated_conn, client, bounds=BOUNDS)
    assert "not valid JSON" in report.aborted
    assert set(costs(migrated_conn).values()) == {Decimal("5.00")}


def test_cli_outage_part_way_exits_1_with_one_clear_message(
    use_database: str, fake: FakeHostwinds, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    from tenantcost.config import get_settings

    monkeypatch.setenv("TENANTCOST_HOSTWINDS_API_URL", fake.url)
    monkeypatch.setenv("TENANTCOST_HOSTWINDS_API_KEY", KEY)
    monkeypatch.setenv("TENANTCOST_HOSTWINDS_RETRIES", "1")
    get_settings.cache_clear()
    with psycopg.connect(use_database) as conn:
        for n in range(3):
            conn.execute(
                "INSERT INTO vps_instances (name, status, hostwinds_service_id, billing_cycle, "
                "approximate_cost) VALUES (%s, 'active', %s, 'monthly', 5.00)",
                (f"vps-{n}", f"20{n:02d}"),
            )
    fake.fail_after(1, 100, status=500)
    result = CliRunner().invoke(app, ["costs", "sync-vps", "--all"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "Nothing was written" in result.stderr
    with psycopg.connect(use_database) as conn:
        values = {r[0] for r in conn.execute("SELECT approximate_cost FROM vps_instances")}
    assert values == {Decimal("5.00")}
    get_settings.cache_clear()
