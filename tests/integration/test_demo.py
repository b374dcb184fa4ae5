"""The demo fleet: deterministic, shaped as documented, loaded all-or-nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from tenantcost.cli import app
from tenantcost.demo.fleet import PLANS, generate, load_demo
from tenantcost.errors import UserError

pytestmark = pytest.mark.db
DAY = date(2026, 11, 1)
Conn = psycopg.Connection[dict[str, Any]]


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    a, _ = generate(50, seed=7, today=DAY)
    b, _ = generate(50, seed=7, today=DAY)
    c, _ = generate(50, seed=8, today=DAY)
    assert a == b
    assert a.companies != c.companies


def test_fleet_shape(migrated_conn: Conn) -> None:
    summary = load_demo(migrated_conn, tenants=40, seed=1, today=DAY)
    one = migrated_conn.execute
    assert one("SELECT count(*) AS n FROM companies").fetchone() == {"n": 40}
    # Every VPS has 1 to 8 IPs.
    sizes = one(
        "SELECT min(n) AS lo, max(n) AS hi FROM (SELECT count(*) AS n FROM smtp_ip_addresses "
        "GROUP BY vps_instance_id) x"
    ).fetchone()
    assert sizes is not None and sizes["lo"] >= 1 and sizes["hi"] <= 8
    # 365 daily analytics rows per subscription, ending today.
    assert summary.analytics_rows == summary.subscriptions * 365
    days = one(
        "SELECT min(period_start) AS a, max(period_start) AS b FROM billing_analytics"
    ).fetchone()
    assert days is not None
    assert (days["b"].date() - days["a"].date()).days == 364
    assert days["b"].date() == DAY
    # Free plans never pay; paid plans pay their list price.
    wrong = one(
        "SELECT count(*) AS n FROM payments py JOIN subscriptions s ON s.id = py.subscription_id "
        "JOIN plans p ON p.id = s.plan_id WHERE py.amount <> p.price_monthly OR p.price_monthly = 0"
    ).fetchone()
    assert wrong == {"n": 0}
    # At most 12 payments per subscription; some months are missing by design.
    most = one(
        "SELECT max(n) AS n FROM (SELECT count(*) AS n FROM payments GROUP BY subscription_id) x"
    )
    assert most.fetchone() == {"n": 12}
    # Billable IPs were priced by the trigger with the $4.99 constant.
    costs = one(
        "SELECT DISTINCT approximate_cost AS c FROM smtp_ip_addresses "
        "WHERE status IN ('active', 'warmed', 'warming')"
    ).fetchall()
    assert [r["c"] for r in costs] == [Decimal("4.99")]
    assert {p.name for p in PLANS} == {r["name"] for r in one("SELECT name FROM plans").fetchall()}


def test_refuses_to_load_over_existing_data_and_writes_nothing(migrated_conn: Conn) -> None:
    load_demo(migrated_conn, tenants=5, seed=1, today=DAY)
    with pytest.raises(UserError, match="already has 5 companies"):
        load_demo(migrated_conn, tenants=9, seed=2, today=DAY)
    assert migrated_conn.execute("SELECT count(*) AS n FROM companies").fetchone() == {"n": 5}
    load_demo(migrated_conn, tenants=9, seed=2, today=DAY, replace=True)
    assert migrated_conn.execute("SELECT count(*) AS n FROM companies").fetchone() == {"n": 9}


def test_main_job_runs_end_to_end(use_database: str) -> None:
    result = CliRunner().invoke(
        app, ["demo", "run", "--tenants", "30", "--no-serve"], terminal_width=160
    )
    assert result.exit_code == 0, result.output
    assert "loaded 30 tenants" in result.output
    assert "checks pass" in result.output and "FAILED" not in result.output
    again = CliRunner().invoke(
        app, ["demo", "run", "--tenants", "30", "--no-serve"], terminal_width=160
    )
    assert "reused the 30 tenants" in again.output
