"""One cost truth: the same tenant's figures on every surface, hand-worked figures for a tenant
with VPS, IPs, a shared share and usage, a fleet without VPS ranked by measured usage, the
glossary against the code, and no scientific notation anywhere.

Hand-worked month (November 2025, attributed as of 2025-12-01 01:00: fraction 1, provisional):

- plans Pro $100 (Zed, Yak) and Free $0 (Xoo); rule ``even``; Railway's book
  ($0.000463/vCPU-minute, $0.15/GB-month);
- Zed: own VPS $40.00 with one IP ($4.99); 3,600 CPU seconds on 2025-11-10 09:00
  (60 min x 0.000463 = $0.02778) and 2 GB stored for that hour (2 / 720 x 0.15 = $0.000416667);
- Yak: nothing of its own; Xoo: one IP of its own ($4.99);
- shared: a $30.00 VPS, split evenly: $10.00 each.

Zed: VPS 40.00 + IP 4.99 + shared 10.00 + compute 0.02778 + storage 0.000416666667
   = 55.018196666667; revenue 100.00; profit 44.981803333333; margin 44.98 %.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

from tenantcost.analytics.export import export
from tenantcost.attribution.ledger import attribute_period
from tenantcost.cli import app
from tenantcost.costs.store import set_setting
from tenantcost.pricing.book import find_price_book
from tenantcost.pricing.store import import_book
from tenantcost.report.reports import REPORTS
from tenantcost.telemetry.timeutil import month_period
from tenantcost.web.serve import running_server
from tenantcost.web.users import add_user

pytestmark = pytest.mark.db
Conn = psycopg.Connection[dict[str, Any]]
NOV = month_period("2025-11")
AS_OF = datetime(2025, 12, 1, 1, tzinfo=UTC)
H = datetime(2025, 11, 10, 9, tzinfo=UTC)
ZED = uuid.UUID("00000000-0000-4000-8000-0000000000e1")
YAK = uuid.UUID("00000000-0000-4000-8000-0000000000e2")
XOO = uuid.UUID("00000000-0000-4000-8000-0000000000e3")
CENT = Decimal("0.01")
EXPONENT = re.compile(r"[0-9][eE][-+]?[0-9]")
UUID_TEXT = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{8}…")


def cents(value: Any) -> Decimal:
    return Decimal(str(value).replace("$", "").replace(",", "").replace("−", "-")).quantize(
        CENT, ROUND_HALF_UP
    )


def build(conn: Conn) -> None:
    import_book(conn, find_price_book("railway-2025-11"))
    pro = conn.execute("INSERT INTO plans (name, price_monthly) VALUES ('Pro', 100) RETURNING id")
    free = conn.execute("INSERT INTO plans (name, price_monthly) VALUES ('Free', 0) RETURNING id")
    plans = {"Pro": pro.fetchone()["id"], "Free": free.fetchone()["id"]}  # type: ignore[index]
    for tenant, name, plan in ((ZED, "Zed", "Pro"), (YAK, "Yak", "Pro"), (XOO, "Xoo", "Free")):
        conn.execute("INSERT INTO companies (id, name) VALUES (%s, %s)", (tenant, name))
        conn.execute(
            "INSERT INTO subscriptions (tenant_id, plan_id, status, current_period_start, "
            "current_period_end) VALUES (%s, %s, 'active', %s, %s)",
            (tenant, plans[plan], NOV.start, NOV.end),
        )
    vps = conn.execute(
        "INSERT INTO vps_instances (tenant_id, status, approximate_cost) "
        "VALUES (%s, 'active', 40.00) RETURNING id",
        (ZED,),
    ).fetchone()
    conn.execute(
        "INSERT INTO smtp_ip_addresses (vps_instance_id, status) VALUES (%s, 'active')",
        (vps["id"],),  # type: ignore[index]
    )
    conn.execute("INSERT INTO smtp_ip_addresses (tenant_id, status) VALUES (%s, 'active')", (XOO,))
    conn.execute("INSERT INTO vps_instances (status, approximate_cost) VALUES ('active', 30.00)")
    set_setting(conn, "shared_cost_allocation", "even", "test")
    conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (H,))
    for metric, source, quantity in (
        ("compute_seconds", "pg_stat_statements", "3600"),
        ("storage_bytes", "database_size", "2000000000"),
    ):
        conn.execute(
            "INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity) "
            "VALUES (%s, %s, %s, %s, %s)",
            (H, ZED, metric, source, Decimal(quantity)),
        )
    attribute_period(conn, NOV, as_of=AS_OF)


@pytest.fixture
def fleet(use_database: str) -> Iterator[str]:
    with psycopg.connect(use_database, row_factory=dict_row, autocommit=True) as conn:
        build(conn)
        add_user(conn, "fin", "analyst", password="finance-password", token=True)
    yield use_database


def test_hand_worked_figures_for_a_tenant_with_everything(fleet: str) -> None:
    with psycopg.connect(fleet, row_factory=dict_row) as conn:
        zed = conn.execute(
            "SELECT * FROM tenant_period_figures WHERE tenant_id = %s", (ZED,)
        ).fetchone()
    assert zed is not None
    assert zed["vps_cost"] == Decimal("40.00")
    assert zed["dedicated_ip_cost"] == Decimal("4.99")
    assert zed["shared_vps_cost"] == Decimal("10.00")  # 30.00 / 3
    assert zed["compute_cost"] == Decimal("0.027780000000")  # 60 vCPU-min x 0.000463
    assert zed["storage_cost"] == Decimal("0.000416666667")  # 2 GB / 720 h x 0.15
    assert zed["total_operational_cost"] == Decimal("55.018196666667")
    assert zed["revenue"] == Decimal("100.00")
    assert zed["monthly_profit"] == Decimal("44.981803333333")
    assert zed["business_health_status"] == "Good"  # 1.5 x 55.02 = 82.53 < 100 < 110.04
    assert zed["compute_source"] == "pg_stat_statements"


def test_every_surface_shows_the_same_figures(fleet: str) -> None:
    runner = CliRunner()
    cli_rows = json.loads(
        runner.invoke(app, ["report", "health", "--format", "json"], env={"COLUMNS": "200"}).stdout
    )
    costs = json.loads(runner.invoke(app, ["report", "tenant-costs", "--format", "json"]).stdout)
    cli = {r["tenant_id"]: r for r in cli_rows}
    cli_costs = {r["tenant_id"]: r for r in costs if r["tenant_id"]}
    with psycopg.connect(fleet, row_factory=dict_row, autocommit=True) as conn:
        user = add_user(conn, "auditor", "analyst", password="auditor-password", token=True)
    headers = {"Authorization": f"Bearer {user.token}"}
    with running_server(fleet) as base, httpx.Client(base_url=base, headers=headers) as web:
        api_rows = {
            r["tenant_id"]: r
            for r in web.get("/api/v1/tables/health", params={"per_page": 500}).json()["rows"]
        }
        focus = list(csv.DictReader(io.StringIO(web.get("/api/v1/export/focus").text)))
        pages = {}
        for tenant in (ZED, YAK, XOO):
            detail = web.get(f"/api/v1/tenants/{tenant}").json()["summary"]
            pages[str(tenant)] = detail
        html = {}
        with httpx.Client(base_url=base) as browser:
            form = browser.get("/login")
            browser.post(
                "/login",
                data={
                    "name": "fin",
                    "password": "finance-password",
                    "login_csrf": form.cookies["tc_login"],
                },
            )
            for tenant in (ZED, YAK, XOO):
                html[str(tenant)] = browser.get(f"/tenants/{tenant}").text
    with psycopg.connect(fleet, row_factory=dict_row, autocommit=True) as conn:
        # What PostHog would get (a dry run queues nothing): each tenant's group properties.
        dry = export(conn, dry_run=True, clock=lambda: AS_OF)
    posthog = {m.payload["group_key"]: m.payload["properties"] for m in dry.new["tenant_group"]}
    for tenant in (str(ZED), str(YAK), str(XOO)):
        cost = cents(cli[tenant]["total_operational_cost"])
        revenue = cents(cli[tenant]["monthly_subscription_revenue"])
        profit = cents(cli[tenant]["monthly_profit"])
        assert cents(cli_costs[tenant]["total_cost"]) == cost
        assert cents(api_rows[tenant]["total_operational_cost"]) == cost
        assert cents(api_rows[tenant]["monthly_subscription_revenue"]) == revenue
        assert cents(api_rows[tenant]["monthly_profit"]) == profit
        assert cents(pages[tenant]["total_operational_cost"]) == cost
        assert cents(pages[tenant]["revenue"]) == revenue
        assert cents(posthog[tenant]["monthly_cost"]) == cost
        assert cents(posthog[tenant]["revenue"]) == revenue
        assert cents(posthog[tenant]["monthly_profit"]) == profit
        focus_sum = sum(Decimal(r["BilledCost"]) for r in focus if r["x_TenantId"] == tenant)
        assert focus_sum.quantize(CENT, ROUND_HALF_UP) == cost
        page = html[tenant]
        for name, value in (("cost", cost), ("revenue", revenue), ("profit", profit)):
            shown = re.search(rf'data-test="tenant-{name}">([^<]+)<', page)
            assert shown is not None and cents(shown.group(1)) == value, (tenant, name)
    assert cents(cli[str(ZED)]["total_operational_cost"]) == Decimal("55.02")  # by hand above


@pytest.mark.usefixtures("roomy_statements")
def test_a_fleet_without_vps_is_ranked_by_measured_usage(use_database: str, admin_url: str) -> None:
    """Done-when of issue 11: no VPS at all, real usage from `collect`; the reports rank
    tenants by what they really cost."""
    from tenantcost.db.connect import connect
    from tenantcost.telemetry.collector import collect_once
    from tenantcost.telemetry.workload import TenantLoad, database_name, run_workload

    runner = CliRunner()
    with connect(use_database, autocommit=True) as conn:
        import_book(conn, find_price_book("railway-2025-11"))
        plan = conn.execute(
            "INSERT INTO plans (name, price_monthly) VALUES ('Pro', 25) RETURNING id"
        ).fetchone()
        loads = []
        # Compute must outweigh each database's storage (~1.5e-6 $/h) at the reports' six
        # decimals on a fast machine too: 2M-row queries, Heavy 3x Light.
        for name, units in (("Heavy", 12), ("Light", 4), ("Idle", 0)):
            row = conn.execute(
                "INSERT INTO companies (name) VALUES (%s) RETURNING id", (name,)
            ).fetchone()
            tenant = uuid.UUID(str(row["id"]))  # type: ignore[index]
            conn.execute(
                "INSERT INTO subscriptions (tenant_id, plan_id, status, current_period_start, "
                "current_period_end) VALUES (%s, %s, 'active', now(), now() + interval '30 days')",
                (tenant, plan["id"]),  # type: ignore[index]
            )
            loads.append(TenantLoad(tenant, name, units))
    try:
        run_workload(use_database, loads, mode="database", query_rows=2_000_000)
        with connect(use_database, autocommit=True) as conn:
            collect_once(conn)  # a second pass after the workload's own
        done = runner.invoke(app, ["attribute"])
        assert done.exit_code == 0, done.output
        rows = json.loads(runner.invoke(app, ["report", "health", "--format", "json"]).stdout)
        cost = {r["company_name"]: Decimal(r["total_operational_cost"]) for r in rows}
        assert cost["Heavy"] > cost["Light"] > 0  # usage is cost now, with no VPS at all
        assert cost["Idle"] < cost["Light"]  # storage only
        heavy = next(r for r in rows if r["company_name"] == "Heavy")
        assert heavy["gross_margin_ratio"] is not None  # it has a cost: not n/a
        top = json.loads(
            runner.invoke(app, ["report", "tenant-costs", "--top", "1", "--format", "json"]).stdout
        )
        assert top[0]["company_name"] == "Heavy"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for load in loads:
                admin.execute(f'DROP DATABASE IF EXISTS "{database_name(load)}" WITH (FORCE)')


def test_no_output_prints_scientific_notation(fleet: str) -> None:
    """Tiny usage amounts (3.9168E-8 and friends) through every report, in every format."""
    with psycopg.connect(fleet, row_factory=dict_row, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity) "
            "VALUES (%s, %s, 'compute_seconds', 'pg_stat_statements', 0.000005)",
            (H, YAK),
        )
        attribute_period(conn, NOV, as_of=AS_OF)
        tiny = conn.execute(
            "SELECT compute_cost FROM tenant_period_figures WHERE tenant_id = %s", (YAK,)
        ).fetchone()
        assert tiny is not None and tiny["compute_cost"] < Decimal("0.0000001")
    runner = CliRunner()
    commands = [["report", name] for name in REPORTS] + [
        ["report", "tenant-costs"],
        ["report", "cost-drivers"],
        ["report", "quality"],
    ]
    for command in commands:
        for fmt in ("json", "csv", "table"):
            result = runner.invoke(app, [*command, "--format", fmt], env={"COLUMNS": "250"})
            assert result.exit_code == 0, (command, result.output)
            figures = UUID_TEXT.sub("", result.stdout)  # ids are not figures
            assert not EXPONENT.search(figures), (command, fmt, result.stdout)


def test_the_glossary_defines_every_column_a_report_prints() -> None:
    from pathlib import Path

    from tenantcost.report.costs import TENANT_COST_COLUMNS

    readme = Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text(encoding="utf-8")
    glossary = text.split("## Metrics (the glossary)", 1)[1].split("\n## ", 1)[0]
    defined = set(re.findall(r"`([a-z_]+)`", glossary))
    columns = {c for r in REPORTS.values() for c in r.columns} | set(TENANT_COST_COLUMNS)
    plain = {"tenant_id", "company_name", "plan_name", "line", "tenant_count"}
    derived = {  # averages and groups of defined metrics, named after them
        "avg_infrastructure_cost": "infrastructure_costs",
        "avg_email_service_cost": "email_service_costs",
        "avg_usage_cost": "usage_cost",
        "avg_total_cost": "total_operational_cost",
        "avg_monthly_profit": "monthly_profit",
        "avg_efficiency_ratio": "business_efficiency_ratio",
        "optimization_category": "optimization_opportunity",
        "efficiency_category": "cost_per_email_delivered",
        "infrastructure_cost": "infrastructure_costs",
        "email_service_cost": "email_service_costs",
        "total_cost": "total_operational_cost",
        "compute": "compute_cost",
        "memory": "memory_cost",
        "storage": "storage_cost",
        "network": "network_cost",
        "vps_and_ips": "vps_cost",
        "addons": "addon_cost",
        "overhead": "platform_overhead_cost",
        "allocation_rule": "shared_vps_cost",
    }
    missing = sorted(
        c for c in columns - plain if derived.get(c, c) not in defined and c not in defined
    )
    assert missing == []


def test_the_readme_metrics_section_is_the_glossary_the_dashboard_serves() -> None:
    from importlib.resources import files
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Metrics (the glossary)\n", 1)[1].split("\n## ", 1)[0]
    shipped = (files("tenantcost") / "glossary.md").read_text(encoding="utf-8")
    assert section.strip() == shipped.strip()  # edit both together: the dashboard serves this
