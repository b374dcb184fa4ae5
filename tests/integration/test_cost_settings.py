"""The audited IP cost constant, per-record overrides, and `db verify` catching hand edits."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from tenantcost.cli import app
from tenantcost.costs import store
from tenantcost.errors import UserError
from tenantcost.verification import run_all

pytestmark = pytest.mark.db
runner = CliRunner()
Conn = psycopg.Connection[dict[str, Any]]


def add_ips(conn: Conn, statuses: list[str]) -> list[str]:
    vps = conn.execute(
        "INSERT INTO vps_instances (status) VALUES ('active') RETURNING id"
    ).fetchone()
    assert vps is not None
    ids = []
    for status in statuses:
        row = conn.execute(
            "INSERT INTO smtp_ip_addresses (vps_instance_id, status) VALUES (%s, %s) RETURNING id",
            (vps["id"], status),
        ).fetchone()
        assert row is not None
        ids.append(str(row["id"]))
    conn.commit()
    return ids


def cost_of(conn: Conn, ip_id: str) -> Decimal:
    row = conn.execute(
        "SELECT approximate_cost FROM smtp_ip_addresses WHERE id = %s", (ip_id,)
    ).fetchone()
    assert row is not None
    return Decimal(row["approximate_cost"])


def test_new_billable_ips_get_the_constant(migrated_conn: Conn) -> None:
    active, warmed, warming, retired = add_ips(
        migrated_conn, ["active", "warmed", "warming", "retired"]
    )
    assert [cost_of(migrated_conn, i) for i in (active, warmed, warming)] == [Decimal("4.99")] * 3
    assert cost_of(migrated_conn, retired) == Decimal("0.00")


def test_constant_change_reprices_and_audits_but_overrides_survive(migrated_conn: Conn) -> None:
    a, b, c = add_ips(migrated_conn, ["active", "active", "warming"])
    store.override_cost(migrated_conn, "ip", b, "3.50", "bundled contract")

    change = store.set_setting(
        migrated_conn, "smtp_ip_monthly_cost", "5.49", "Hostwinds price rise"
    )

    assert change.repriced == 2  # a and c; b is overridden
    assert cost_of(migrated_conn, a) == Decimal("5.49")
    assert cost_of(migrated_conn, b) == Decimal("3.50")
    assert cost_of(migrated_conn, c) == Decimal("5.49")
    audit = migrated_conn.execute(
        "SELECT entity, entity_id, old_value, new_value, source, reason, changed_by "
        "FROM cost_audit ORDER BY id"
    ).fetchall()
    setting_rows = [r for r in audit if r["entity"] == "setting"]
    assert len(setting_rows) == 1
    assert setting_rows[0]["old_value"] == "4.99"
    assert setting_rows[0]["new_value"] == "5.49"
    assert setting_rows[0]["reason"] == "Hostwinds price rise"
    assert setting_rows[0]["changed_by"] == "postgres"
    ip_rows = {r["entity_id"]: r for r in audit if r["entity"] == "ip" and r["source"] == "setting"}
    assert set(ip_rows) == {a, c}
    # New IPs after the change get the new constant.
    (d,) = add_ips(migrated_conn, ["active"])
    assert cost_of(migrated_conn, d) == Decimal("5.49")


def test_clearing_an_ip_override_returns_it_to_the_constant(migrated_conn: Conn) -> None:
    (ip,) = add_ips(migrated_conn, ["active"])
    store.override_cost(migrated_conn, "ip", ip, "1.00", "promo")
    assert cost_of(migrated_conn, ip) == Decimal("1.00")
    store.clear_override(migrated_conn, "ip", ip, "promo ended")
    assert cost_of(migrated_conn, ip) == Decimal("4.99")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "negative"),
        ("abc", "not a number"),
        ("4.999", "more than 2 decimals"),
        ("10000", "above the largest"),
        ("NaN", "not a number"),
    ],
)
def test_bad_setting_values_are_rejected_and_nothing_changes(
    migrated_conn: Conn, value: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        store.set_setting(migrated_conn, "smtp_ip_monthly_cost", value, "typo")
    row = migrated_conn.execute(
        "SELECT value FROM cost_settings WHERE key = 'smtp_ip_monthly_cost'"
    ).fetchone()
    assert row == {"value": "4.99"}
    assert migrated_conn.execute("SELECT count(*) AS n FROM cost_audit").fetchone() == {"n": 0}


def test_database_rejects_negative_cost_written_directly(migrated_conn: Conn) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match="chk_vps_approximate_cost_positive"):
        migrated_conn.execute(
            "INSERT INTO vps_instances (status, approximate_cost) VALUES ('active', -5)"
        )


def test_cli_set_and_negative_override(use_database: str) -> None:
    ok = runner.invoke(app, ["costs", "set", "smtp_ip_monthly_cost", "5.49", "--reason", "rise"])
    assert ok.exit_code == 0, ok.output
    shown = runner.invoke(app, ["costs", "settings", "--format", "json"])
    values = {row["key"]: row["value"] for row in json.loads(shown.output)}
    assert values["smtp_ip_monthly_cost"] == "5.49"

    with psycopg.connect(use_database) as conn:
        row = conn.execute(
            "INSERT INTO vps_instances (status) VALUES ('active') RETURNING id"
        ).fetchone()
        assert row is not None
        vps = str(row[0])
    bad = runner.invoke(app, ["costs", "override", "--reason", "oops", "vps", vps, "--", "-3"])
    assert bad.exit_code == 2
    assert "negative" in bad.output
    missing_reason = runner.invoke(app, ["costs", "override", "vps", vps, "3"])
    assert missing_reason.exit_code == 2


NOTHING_ATTRIBUTED = ("latest period reconciles", "SKIP")  # a fresh database has no month yet
NO_CITUS = ("Citus placement", "SKIP")  # the embedded PostgreSQL has no Citus


def test_verify_passes_then_fails_when_constraint_or_index_dropped(migrated_url: str) -> None:
    not_passed = [(r.check, r.status) for r in run_all(migrated_url) if r.status != "PASS"]
    assert not_passed == [NOTHING_ATTRIBUTED, NO_CITUS]
    with psycopg.connect(migrated_url) as conn:
        conn.execute("ALTER TABLE vps_instances DROP CONSTRAINT chk_vps_approximate_cost_positive")
        conn.execute("DROP INDEX idx_smtp_ip_addresses_approximate_cost")
    failed = {r.check for r in run_all(migrated_url) if r.status == "FAIL"}
    assert failed == {
        "constraint chk_vps_approximate_cost_positive",
        "index idx_smtp_ip_addresses_approximate_cost",
    }


def test_verify_cli_exit_code_and_json(use_database: str) -> None:
    result = runner.invoke(app, ["db", "verify", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["check"], r["status"]) for r in rows if r["status"] != "PASS"] == [
        NOTHING_ATTRIBUTED,
        NO_CITUS,
    ]
    with psycopg.connect(use_database) as conn:
        conn.execute("ALTER TABLE companies NO FORCE ROW LEVEL SECURITY")
    result = runner.invoke(app, ["db", "verify", "--format", "json"])
    assert result.exit_code == 1
    failed = [r["check"] for r in json.loads(result.output) if r["status"] == "FAIL"]
    assert failed == ["RLS on companies"]
