"""`tenantcost report …` end to end: every report in table, JSON and CSV on a hand-built fleet.

The fleet is test_bi_views' (tenants A Acme/Pro, B Bolt/Basic, C Cirrus/Free, company D without
an active subscription, a shared $100.00 VPS with two IPs) plus tenant E (Pro, one $10.01 VPS,
paid $99.00, no email) so the per-plan averages average something and round.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner, Result

from tenantcost.attribution.ledger import attribute_period
from tenantcost.report.cli import app
from tenantcost.report.reports import REPORTS
from tests.integration.test_bi_views import (
    AS_OF,
    NOV,
    A,
    B,
    C,
    D,
    add_tenant,
    add_vps,
    build_fleet,
    pay,
)

pytestmark = pytest.mark.db
runner = CliRunner()
E = uuid.UUID("00000000-0000-0000-0000-0000000000e1")
MONEY = re.compile(r"^-?\d+\.\d{6}$")  # machines: 6 decimals in every row
PER_EMAIL = re.compile(r"^-?\d+\.\d{4}$")
RATIO = re.compile(r"^-?\d+\.\d{2}$")


def m(amount: str) -> str:
    """An amount as JSON carries it: 6 decimals."""
    return f"{Decimal(amount):.6f}"


@pytest.fixture
def fleet(use_database: str) -> str:
    build_fleet(use_database)
    with psycopg.connect(use_database, row_factory=dict_row) as conn:
        pro = conn.execute("SELECT id FROM plans WHERE name = 'Pro'").fetchone()
        assert pro is not None
        sub = add_tenant(conn, E, "Ember", pro["id"], "active")
        add_vps(conn, E, "10.01")
        pay(conn, sub, "99.00", 27)
    return use_database


def run(*args: str) -> Result:
    result = runner.invoke(app, list(args), env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    return result


def as_json(*args: str) -> list[dict[str, Any]]:
    rows = json.loads(run(*args, "--format", "json").stdout)
    assert isinstance(rows, list)
    return rows


def attribute(url: str) -> None:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        attribute_period(conn, NOV, as_of=AS_OF)


@pytest.fixture
def refreshed(fleet: str) -> str:
    attribute(fleet)
    return fleet


def check_shape(name: str, rows: list[dict[str, Any]]) -> None:
    report = REPORTS[name]
    for row in rows:
        assert tuple(row) == report.columns  # JSON keys = the view's column names, in order
        for column, places in report.places(people=False).items():
            pattern = {4: PER_EMAIL, 2: RATIO}.get(places, MONEY)
            assert row[column] is None or pattern.match(row[column]), (column, row[column])


def test_health(refreshed: str) -> None:
    rows = as_json("health")
    check_shape("health", rows)
    # Best score first: B 100, E 90 ((99 - 10.01) / 99 = 89.9%), A 4, C 0.
    assert [r["company_name"] for r in rows] == ["Bolt", "Ember", "Acme", "Cirrus"]
    acme = rows[2]
    assert acme == {
        "tenant_id": str(A),
        "company_name": "Acme",
        "plan_name": "Pro",
        "business_health_status": "Monitor",
        "cost_efficiency_score": 4,
        "gross_margin_ratio": "1.04",  # 99 / (65.50 + 6 x 4.99)
        "monthly_subscription_revenue": m("99.00"),
        "total_operational_cost": m("95.44"),
        "monthly_profit": m("3.56"),
    }
    assert rows[0]["gross_margin_ratio"] is None  # Bolt has no cost: n/a, not 0
    assert rows[1]["business_health_status"] == "Excellent"  # 99 > 2 x 10.01


def test_optimization(refreshed: str) -> None:
    rows = as_json("optimization")
    check_shape("optimization", rows)
    # Excellent tenants (Bolt, Ember) are left out; opportunity = revenue x 2 - cost.
    assert [(r["company_name"], r["optimization_opportunity"]) for r in rows] == [
        ("Acme", m("102.56")),  # 99.00 x 2 - 95.44
        ("Cirrus", m("-9.98")),  # 0.00 x 2 - 9.98
    ]
    assert {r["optimization_category"] for r in rows} == {"High Optimization Potential"}


def test_cost_by_plan(refreshed: str) -> None:
    rows = as_json("cost-by-plan")
    check_shape("cost-by-plan", rows)
    by_plan = {r["plan_name"]: r for r in rows}
    # by average efficiency (payments / cost); Basic has no cost (n/a) and sorts last
    assert [r["plan_name"] for r in rows] == ["Pro", "Free", "Basic"]
    pro = by_plan["Pro"]  # Acme and Ember; the cancelled Defunct is not a tenant
    assert pro["tenant_count"] == 2
    assert pro["avg_infrastructure_cost"] == m("37.755")  # (65.50 + 10.01) / 2
    assert pro["avg_email_service_cost"] == m("14.97")  # (29.94 + 0.00) / 2
    assert pro["avg_total_cost"] == m("52.725")  # (95.44 + 10.01) / 2
    assert pro["avg_monthly_profit"] == m("46.275")  # (3.56 + 88.99) / 2
    # ((99 / 95.44) + (99 / 10.01)) / 2 = (1.037301 + 9.890110) / 2 = 5.4637
    assert pro["avg_efficiency_ratio"] == "5.46"
    assert by_plan["Free"]["avg_monthly_profit"] == m("-9.98")
    assert by_plan["Basic"]["avg_efficiency_ratio"] is None


def test_cost_per_email(refreshed: str) -> None:
    rows = as_json("cost-per-email")
    check_shape("cost-per-email", rows)
    # Tenants with a cost and email: Cirrus 9.98 / 1000 = 0.00998, Acme 95.44 / 6000 = 0.01591.
    assert [(r["company_name"], r["cost_per_email_delivered"]) for r in rows] == [
        ("Cirrus", "0.0100"),
        ("Acme", "0.0159"),
    ]
    # Categories judge the exact figure (rounding happens only when it is shown):
    # 0.00998 < 0.01 is Highly Efficient although it prints as 0.0100; 0.0159 < 0.02 Efficient.
    assert [r["efficiency_category"] for r in rows] == ["Highly Efficient", "Efficient"]
    assert rows[1]["monthly_profit"] == m("3.56")  # revenue 99 - cost 95.44
    assert rows[1]["plan_name"] == "Pro"


def test_shared(refreshed: str) -> None:
    rows = as_json("shared")
    check_shape("shared", rows)
    assert rows[0]["line"] == "shared_unallocated" and rows[0]["tenant_id"] is None
    assert (rows[0]["infrastructure_cost"], rows[0]["email_service_cost"]) == (
        m("100.00"),
        m("9.98"),
    )
    assert rows[0]["total_cost"] == m("109.98")
    assert rows[1] == {
        "line": "no_active_subscription",
        "tenant_id": str(D),
        "company_name": "Defunct",
        "infrastructure_cost": m("15.00"),
        "email_service_cost": m("0.00"),
        "total_cost": m("15.00"),
        "allocation_rule": "none",
    }


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_csv_and_table(refreshed: str, name: str) -> None:
    report = REPORTS[name]
    expected = as_json(name)
    text = run(name, "--format", "csv").stdout
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert tuple(parsed[0]) == report.columns
    assert parsed == [{k: "" if v is None else str(v) for k, v in row.items()} for row in expected]
    table = run(name).stdout
    assert report.title in table and "2025-11" in table
    shown = {"shared": "Defunct", "cost-by-plan": "Basic"}.get(name, "Acme")
    assert shown in table


def test_reports_say_when_the_figures_are_behind(refreshed: str) -> None:
    with psycopg.connect(refreshed, autocommit=True) as conn:
        conn.execute("UPDATE cost_settings SET value = 'even' WHERE key = 'shared_cost_allocation'")
    result = run("health", "--format", "json")
    assert "1 change(s) since the refresh" in result.stderr
    assert "tenantcost report refresh" in result.stderr
    assert json.loads(result.stdout)[0]["company_name"] == "Bolt"  # still the old figures
    attribute(refreshed)  # recompute November: Bolt now carries a quarter of the shared cost
    rows = as_json("health")
    bolt = next(r for r in rows if r["tenant_id"] == str(B))
    # 100.00 / 4 = 25.00; 9.98 / 4 = 2.495: 2.49 each, the 2 residual cents to A and B.
    assert bolt["total_operational_cost"] == m("27.50")  # 25.00 + 2.49 + 0.01
    assert str(C) in {r["tenant_id"] for r in rows}
    assert "change(s)" not in run("health", "--format", "json").stderr


COST_MODEL_REPORTS = [
    ["report", "health"],
    ["report", "optimization"],
    ["report", "cost-by-plan"],
    ["report", "cost-per-email"],
    ["report", "shared"],
    ["report", "tenant-costs"],
    ["report", "cost-drivers"],
    ["report", "quality"],
]
CUT_FIGURE = re.compile(r"[0-9$]…|…[0-9]")


@pytest.mark.parametrize("args", COST_MODEL_REPORTS, ids=" ".join)
@pytest.mark.parametrize("width", [80, 200])
def test_every_cost_report_fits_the_terminal_and_round_trips(
    refreshed: str, args: list[str], width: int
) -> None:
    from tenantcost.cli import app as root

    def invoke(*extra: str) -> Result:
        result = runner.invoke(root, [*args, *extra], env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        return result

    table = invoke().stdout
    assert max(len(line) for line in table.splitlines()) <= width
    assert not CUT_FIGURE.search(table), table  # no figure is ever cut short
    rows = json.loads(invoke("--format", "json").stdout)
    parsed = list(csv.DictReader(io.StringIO(invoke("--format", "csv").stdout)))
    assert len(parsed) == len(rows) and rows
    # Every total cost shown to people is the JSON figure in cents, whole.
    key = next(
        (k for k in ("total_operational_cost", "total_cost", "total_monthly_cost") if k in rows[0]),
        None,
    )
    if key is not None and width == 200:
        for row in rows:
            cents = Decimal(row[key]).quantize(Decimal("0.01"))
            assert f"${cents:,}" in table, (key, cents)
