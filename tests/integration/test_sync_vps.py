"""Hostwinds sync and monthly reconciliation against a migrated PostgreSQL and the fake API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tenantcost.costs.sync import reconcile, sync_vps
from tenantcost.errors import UserError
from tenantcost.providers.fake_hostwinds import CUSTOM_RID, FakeHostwinds, FakeService
from tenantcost.providers.hostwinds import HostwindsClient

pytestmark = pytest.mark.db

Conn = psycopg.Connection[dict[str, Any]]
KEY = "sync-test-key"
CUSTOM = {"cpu": 2, "ram": 6, "disk": 100, "bandwidth": 2}


@pytest.fixture
def fake() -> Iterator[FakeHostwinds]:
    services = [
        FakeService("1001", "uvps-1", "monthly"),
        FakeService("1002", "uvps-2", "annually"),
        FakeService("1003", "uvps-4", "triennially"),
        FakeService("1004", None, "annually", config=CUSTOM),
        FakeService("1005", "uvps-1", "annually"),
    ]
    with FakeHostwinds(services=services, api_key=KEY) as server:
        yield server


@pytest.fixture
def client(fake: FakeHostwinds) -> Iterator[HostwindsClient]:
    with HostwindsClient(
        fake.url, KEY, timeout=2.0, retries=3, backoff_base=0.01, allow_upgrade_orders=True
    ) as c:
        yield c


def add_vps(
    conn: Conn,
    name: str,
    service_id: str | None,
    plan_id: str | None = None,
    cycle: str | None = "monthly",
    config: dict[str, Any] | None = None,
    cost: str = "0.00",
    override: bool = False,
) -> str:
    row = conn.execute(
        """INSERT INTO vps_instances (name, status, hostwinds_service_id, hostwinds_plan_id,
                                      billing_cycle, hostwinds_config, approximate_cost,
                                      cost_override)
           VALUES (%s, 'active', %s, %s, %s, %s, %s, %s) RETURNING id::text AS id""",
        (
            name,
            service_id,
            plan_id,
            cycle,
            None if config is None else Jsonb(config),
            Decimal(cost),
            override,
        ),
    ).fetchone()
    assert row is not None
    conn.commit()
    return str(row["id"])


@pytest.fixture
def fleet(migrated_conn: Conn) -> dict[str, str]:
    """Four linked VPS (plan monthly, plan annually, cycle prices only, custom) + one unlinked."""
    conn = migrated_conn
    return {
        "mail-1": add_vps(conn, "mail-1", "1001", "uvps-1", "monthly"),
        "mail-2": add_vps(conn, "mail-2", "1002", "uvps-2", "annually"),
        "db-1": add_vps(conn, "db-1", "1003", None, "triennially"),
        "custom-1": add_vps(
            conn, "custom-1", "1004", None, "annually", config={"rid": CUSTOM_RID, **CUSTOM}
        ),
        "legacy": add_vps(conn, "legacy", None, cost="12.00"),
    }


def costs(conn: Conn) -> dict[str, Decimal]:
    rows = conn.execute("SELECT name, approximate_cost FROM vps_instances").fetchall()
    conn.commit()
    return {r["name"]: r["approximate_cost"] for r in rows}


def snapshot(conn: Conn) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM vps_instances ORDER BY id").fetchall()
    conn.commit()
    return rows


def audit(conn: Conn) -> list[dict[str, Any]]:
    """cost_audit rows (old/new may be text or numeric: compare them as Decimal)."""
    rows = conn.execute(
        "SELECT entity, entity_id, old_value, new_value, source, reason FROM cost_audit ORDER BY id"
    ).fetchall()
    conn.commit()
    return rows


# Hand-computed expectations (fake price list, see fake_hostwinds.default_plans):
#   mail-1   uvps-1 monthly        9.99 / 1                          = 9.99
#   mail-2   uvps-2 annually     193.68 / 12                         = 16.14
#   db-1     service 1003 (uvps-4) triennially 1025.64 / 36          = 28.49
#   custom-1 2 CPU x 4.00 + 6 GB x 2.50 + 100 GB x 0.10 + 2 TB x 1.00 = 35.00 / month;
#            annually 35.00 x 12 = 420.00, -10 % = 378.00; / 12      = 31.50
EXPECTED = {
    "mail-1": Decimal("9.99"),
    "mail-2": Decimal("16.14"),
    "db-1": Decimal("28.49"),
    "custom-1": Decimal("31.50"),
}


def test_sync_prices_every_linked_vps(
    migrated_conn: Conn, fleet: dict[str, str], client: HostwindsClient
) -> None:
    report = sync_vps(migrated_conn, client)
    assert [len(report.changed), len(report.unchanged), len(report.overridden)] == [4, 0, 0]
    assert report.failed == []
    assert report.unlinked == 1
    # from 0.00 each: 9.99 + 16.14 + 28.49 + 31.50 = 86.12
    assert report.total_delta == Decimal("86.12")
    assert costs(migrated_conn) == {**EXPECTED, "legacy": Decimal("12.00")}

    rows = migrated_conn.execute(
        "SELECT name, cost_source, cost_updated_at FROM vps_instances WHERE name <> 'legacy'"
    ).fetchall()
    assert {r["cost_source"] for r in rows} == {"hostwinds"}
    assert all(r["cost_updated_at"] is not None for r in rows)

    trail = audit(migrated_conn)
    assert len(trail) == 4
    by_id = {r["entity_id"]: r for r in trail}
    for name, value in EXPECTED.items():
        row = by_id[fleet[name]]
        assert (row["entity"], row["source"], row["reason"]) == (
            "vps",
            "hostwinds",
            "hostwinds sync",
        )
        assert (Decimal(row["old_value"]), Decimal(row["new_value"])) == (Decimal("0.00"), value)


def test_second_run_changes_nothing(
    migrated_conn: Conn, fleet: dict[str, str], client: HostwindsClient
) -> None:
    sync_vps(migrated_conn, client)
    before, trail = snapshot(migrated_conn), audit(migrated_conn)
    report = sync_vps(migrated_conn, client)
    assert len(report.changed) == 0 and len(report.unchanged) == 4
    assert report.total_delta == Decimal("0.00")
    assert snapshot(migrated_conn) == before  # cost_updated_at untouched too
    assert audit(migrated_conn) == trail


def test_price_change_is_picked_up_with_its_delta(
    migrated_conn: Conn, fleet: dict[str, str], client: HostwindsClient, fake: FakeHostwinds
) -> None:
    sync_vps(migrated_conn, client)
    fake.set_price("uvps-2", "annually", "199.68")  # 199.68 / 12 = 16.64, was 16.14
    report = sync_vps(migrated_conn, client)
    assert [r.name for r in report.changed] == ["mail-2"]
    assert report.total_delta == Decimal("0.50")
    assert costs(migrated_conn)["mail-2"] == Decimal("16.64")
    last = audit(migrated_conn)[-1]
    assert (Decimal(last["old_value"]), Decimal(last["new_value"])) == (
        Decimal("16.14"),
        Decimal("16.64"),
    )


def test_overrides_survive_sync_and_reconcile(
    migrated_conn: Conn, fleet: dict[str, str], client: HostwindsClient
) -> None:
    finance = add_vps(migrated_conn, "finance", "1005", "uvps-1", "annually", cost="5.00")
    migrated_conn.execute(
        "UPDATE vps_instances SET cost_override = true, cost_source = 'override' WHERE id = %s",
        (finance,),
    )
    migrated_conn.commit()
    # The hand-made override above is itself audited (source 'sql'); the syncs add nothing.
    before = [r for r in audit(migrated_conn) if r["entity_id"] == finance]
    assert [r["source"] for r in before] == ["sql"]

    first = sync_vps(migrated_conn, client)
    second = reconcile(migrated_conn, client)
    assert [r.name for r in first.overridden] == ["finance"]
    assert [r.name for r in second.overridden] == ["finance"]
    assert costs(migrated_conn)["finance"] == Decimal("5.00")
    assert [r for r in audit(migrated_conn) if r["entity_id"] == finance] == before


def test_overridden_instance_is_not_requested(
    migrated_conn: Conn, client: HostwindsClient, fake: FakeHostwinds
) -> None:
    add_vps(migrated_conn, "finance", "1005", "uvps-1", "annually", cost="5.00", override=True)
    report = sync_vps(migrated_conn, client, "finance")
    assert len(report.overridden) == 1
    assert fake.request_count == 0  # overridden instances are not even priced


def test_failed_api_changes_nothing_stored(
    migrated_conn: Conn, fleet: dict[str, str], client: HostwindsClient, fake: FakeHostwinds
) -> None:
    sync_vps(migrated_conn, client)
    fake.set_price("uvps-1", "monthly", "12.99")  # there WOULD be a change
    before, trail = snapshot(migrated_conn), audit(migrated_conn)
    calls_before = fake.request_count
    fake.fail_next(10_000, status=503)

    started = time.monotonic()
    report = reconcile(migrated_conn, client)
    assert time.monotonic() - started < 5.0

    assert len(report.failed) == 4 and not report.ok
    assert report.changed == [] and report.total_delta == Decimal("0.00")
    assert "after 3 attempt(s)" in report.failed[0].reason
    assert all(r.reason.startswith("not attempted") for r in report.failed[1:])
    # the first instance used up its 3 attempts; the others were not tried
    assert fake.request_count - calls_before == 3
    assert snapshot(migrated_conn) == before
    assert audit(migrated_conn) == trail


def test_one_failure_does_not_block_the_others(
    migrated_conn: Conn, fleet: dict[str, str], client: HostwindsClient
) -> None:
    bad = add_vps(migrated_conn, "bad-plan", "1001", "uvps-404", "monthly", cost="3.00")
    weird = add_vps(migrated_conn, "weird-cycle", "1001", "uvps-1", "weekly", cost="4.00")
    report = sync_vps(migrated_conn, client)
    assert len(report.changed) == 4
    reasons = {r.id: r.reason for r in report.failed}
    assert set(reasons) == {bad, weird}
    assert "uvps-404" in reasons[bad]
    assert "unknown billing cycle 'weekly'" in reasons[weird]
    stored = costs(migrated_conn)
    assert (stored["bad-plan"], stored["weird-cycle"]) == (Decimal("3.00"), Decimal("4.00"))


def test_dry_run_writes_nothing(
    migrated_conn: Conn, fleet: dict[str, str], client: HostwindsClient
) -> None:
    before, trail = snapshot(migrated_conn), audit(migrated_conn)
    report = sync_vps(migrated_conn, client, dry_run=True)
    assert report.dry_run
    assert len(report.changed) == 4
    assert report.total_delta == Decimal("86.12")  # as in the first real sync
    assert snapshot(migrated_conn) == before
    assert audit(migrated_conn) == trail


def test_reconcile_is_idempotent_and_audited(
    migrated_conn: Conn, fleet: dict[str, str], client: HostwindsClient
) -> None:
    first = reconcile(migrated_conn, client)
    assert len(first.changed) == 4
    trail = audit(migrated_conn)
    assert {r["reason"] for r in trail} == {"monthly reconciliation"}
    second = reconcile(migrated_conn, client)
    assert len(second.changed) == 0 and len(second.unchanged) == 4
    assert audit(migrated_conn) == trail


def test_single_instance_by_id_name_or_service_id(
    migrated_conn: Conn, fleet: dict[str, str], client: HostwindsClient
) -> None:
    by_name = sync_vps(migrated_conn, client, "mail-2")
    assert [(r.name, r.new) for r in by_name.changed] == [("mail-2", Decimal("16.14"))]
    by_service = sync_vps(migrated_conn, client, "1001")
    assert [r.name for r in by_service.changed] == ["mail-1"]
    by_id = sync_vps(migrated_conn, client, fleet["db-1"])
    assert [r.name for r in by_id.changed] == ["db-1"]
    assert costs(migrated_conn)["custom-1"] == Decimal("0.00")  # not part of any run


def test_single_instance_errors(
    migrated_conn: Conn, fleet: dict[str, str], client: HostwindsClient
) -> None:
    with pytest.raises(UserError, match="no VPS instance matches 'nope'"):
        sync_vps(migrated_conn, client, "nope")
    with pytest.raises(UserError, match="has no hostwinds_service_id"):
        sync_vps(migrated_conn, client, "legacy")


def test_override_set_while_fetching_is_respected(
    migrated_conn: Conn, fleet: dict[str, str], client: HostwindsClient, migrated_url: str
) -> None:
    """Finance sets an override between the fetch and the write: the lock re-check sees it."""

    def finance_steps_in(done: int, total: int, label: str) -> None:
        if done == total:
            with psycopg.connect(migrated_url, autocommit=True) as other:
                other.execute(
                    "UPDATE vps_instances SET cost_override = true, approximate_cost = 7.00 "
                    "WHERE name = 'mail-1'"
                )

    report = sync_vps(migrated_conn, client, progress=finance_steps_in)
    assert [r.name for r in report.overridden] == ["mail-1"]
    assert len(report.changed) == 3
    assert costs(migrated_conn)["mail-1"] == Decimal("7.00")
    # Only Finance's own (hand-made, source 'sql') change is audited, never the sync's.
    mail_1 = [r for r in audit(migrated_conn) if r["entity_id"] == fleet["mail-1"]]
    assert [r["source"] for r in mail_1] == ["sql"]


def test_confirmed_value_is_relabelled_without_audit(
    migrated_conn: Conn, client: HostwindsClient
) -> None:
    """After Finance clears an override (source 'manual'), a sync that confirms the same value
    marks it as Hostwinds-sourced; the value did not change, so no audit row."""
    vps = add_vps(migrated_conn, "mail-1", "1001", "uvps-1", "monthly", cost="9.99")
    migrated_conn.execute("UPDATE vps_instances SET cost_source = 'manual' WHERE id = %s", (vps,))
    migrated_conn.commit()

    report = sync_vps(migrated_conn, client)
    assert [r.status for r in report.results] == ["unchanged"]
    assert "cost_source set to hostwinds" in report.results[0].reason
    row = migrated_conn.execute(
        "SELECT approximate_cost, cost_source, cost_updated_at FROM vps_instances"
    ).fetchone()
    assert row is not None
    assert (row["approximate_cost"], row["cost_source"]) == (Decimal("9.99"), "hostwinds")
    assert row["cost_updated_at"] is not None
    assert audit(migrated_conn) == []

    before = snapshot(migrated_conn)
    again = sync_vps(migrated_conn, client)
    assert again.results[0].reason == ""  # nothing left to relabel
    assert snapshot(migrated_conn) == before


def test_wrong_key_fails_fast_and_changes_nothing(
    migrated_conn: Conn, fleet: dict[str, str], fake: FakeHostwinds
) -> None:
    before = snapshot(migrated_conn)
    with HostwindsClient(
        fake.url, "not-the-key", retries=3, backoff_base=0.01, allow_upgrade_orders=True
    ) as wrong:
        report = sync_vps(migrated_conn, wrong)
    assert len(report.failed) == 4
    assert "Invalid API Key" in report.failed[0].reason
    assert fake.request_count == 1  # refused key: no retry, the other instances not attempted
    assert snapshot(migrated_conn) == before
    assert audit(migrated_conn) == []


def test_custom_configuration_places_no_order_without_permission(
    migrated_conn: Conn, fleet: dict[str, str], fake: FakeHostwinds
) -> None:
    """A price check must not order an upgrade: custom configs need --allow-upgrade-orders."""
    with HostwindsClient(fake.url, KEY, retries=1, backoff_base=0.01) as cautious:
        report = sync_vps(migrated_conn, cautious)
    assert fake.count("upgrade_instance") == 0
    assert [r.name for r in report.failed] == ["custom-1"]
    assert "upgrade order" in (report.failed[0].reason or "")
    after = costs(migrated_conn)
    assert after["custom-1"] == Decimal("0.00")  # untouched
    assert after["mail-1"] == EXPECTED["mail-1"]  # the others were still priced
