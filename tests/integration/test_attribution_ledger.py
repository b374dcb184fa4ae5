"""The cost ledger on the real server: usage x book, fixed costs, reconciliation, reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
import typer
from typer.testing import CliRunner

from tenantcost.attribution.ledger import attribute_period
from tenantcost.cli import TenantcostGroup
from tenantcost.db.connect import Connection, connect
from tenantcost.pricing.book import find_price_book
from tenantcost.pricing.store import import_book
from tenantcost.telemetry.timeutil import month_period

pytestmark = pytest.mark.db

H1 = datetime(2025, 11, 10, 9, tzinfo=UTC)
H2 = datetime(2025, 11, 10, 10, tzinfo=UTC)


@pytest.fixture
def conn(migrated_url: str) -> Iterator[Connection]:
    with connect(migrated_url, autocommit=True) as c:
        import_book(c, find_price_book("railway-2025-11"))
        yield c


def company(conn: Connection, name: str) -> UUID:
    row: Any = conn.execute(
        "INSERT INTO companies (name) VALUES (%s) RETURNING id", (name,)
    ).fetchone()
    return UUID(str(row["id"]))


def put(
    conn: Connection, hour: datetime, tenant: UUID | None, metric: str, source: str, q: str
) -> None:
    conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (hour,))
    conn.execute(
        "INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity) VALUES (%s, %s, %s, %s, %s)",
        (hour, tenant, metric, source, Decimal(q)),
    )


def ledger(conn: Connection, period: str, mode: str) -> dict[tuple[Any, str], Decimal]:
    rows = conn.execute(
        "SELECT tenant_id, driver, sum(amount) AS amount FROM tenant_cost_ledger "
        "WHERE period = %s AND mode = %s GROUP BY tenant_id, driver",
        (period, mode),
    ).fetchall()
    return {(r["tenant_id"], r["driver"]): r["amount"] for r in rows}


def test_month_ledger_by_hand_and_rerun_replaces(conn: Connection) -> None:
    a, b = company(conn, "Alpha"), company(conn, "Beta")
    # A: 600 s of CPU by pg_stat_statements, and a lower-priority app figure that must be ignored
    put(conn, H1, a, "compute_seconds", "pg_stat_statements", "600")
    put(conn, H1, a, "compute_seconds", "app", "9999")
    put(conn, H1, b, "compute_seconds", "app", "150")  # B only has the app's figure
    put(conn, H1, b, "egress_bytes", "app", "2000000000")  # 2 GB
    put(conn, H2, a, "connection_seconds", "pg_stat_database", "3600")
    put(conn, H2, a, "storage_bytes", "database_size", "1000000000")
    put(conn, H2, None, "compute_seconds", "pg_stat_statements", "50")  # unattributed
    period = month_period("2025-11")
    result = attribute_period(conn, period)
    got = ledger(conn, "2025-11", "bottom_up")
    # Railway: $0.000463/vCPU-min, $0.000231/GB-min, $0.15/GB-month, $0.05/GB
    assert got[(a, "compute")] == Decimal("0.004630000000")  # 600 s = 10 min x 0.000463
    assert got[(b, "compute")] == Decimal("0.001157500000")  # 150 s = 2.5 min x 0.000463
    assert got[(b, "network")] == Decimal("0.100000000000")  # 2 GB x 0.05
    assert got[(a, "memory")] == Decimal(
        "0.000138600000"
    )  # 3600 s x 0.01 GB = 36 GB-s = 0.6 GB-min
    assert got[(a, "storage")] == Decimal("0.000208333333")  # 1 GB for 1 of 720 h x 0.15
    assert all(isinstance(v, Decimal) for v in got.values())
    assert result.mode("reconciled") is None  # no invoice, no host measurement
    assert any("no reconciled figures" in n for n in result.notes)

    # Re-running the month replaces its rows instead of adding to them.
    attribute_period(conn, period)
    assert ledger(conn, "2025-11", "bottom_up") == got
    count = conn.execute(
        "SELECT count(*) AS n FROM tenant_cost_totals WHERE period = '2025-11'"
    ).fetchone()
    assert count is not None and count["n"] == 1


def test_invoice_reconciliation_sums_to_the_cent(conn: Connection) -> None:
    a, b = company(conn, "Alpha"), company(conn, "Beta")
    put(conn, H1, a, "compute_seconds", "pg_stat_statements", "3600000")  # 60000 min -> $27.78
    put(conn, H1, b, "compute_seconds", "pg_stat_statements", "900000")  # 15000 min -> $6.945
    attribute_period(conn, month_period("2025-11"), invoice_total=Decimal("50.00"))
    rec = ledger(conn, "2025-11", "reconciled")
    # attributed 27.78 + 6.945 = 34.725 -> 34.73 (half up), split 4:1 -> 27.78 / 6.95 (largest
    # remainder gives the odd cent to B: 34.73 x 1/5 = 6.946); idle = 50.00 - 34.73 = 15.27
    assert rec[(a, "compute")] == Decimal("27.78")
    assert rec[(b, "compute")] == Decimal("6.95")
    assert rec[(None, "invoice")] == Decimal("15.27")
    assert sum(rec.values()) == Decimal("50.00")
    stored = conn.execute("SELECT amount FROM host_invoices WHERE period = '2025-11'").fetchone()
    assert stored is not None and stored["amount"] == Decimal("50.00")
    # The stored invoice is used again next time without the option.
    attribute_period(conn, month_period("2025-11"))
    assert ledger(conn, "2025-11", "reconciled") == rec


def test_price_book_change_inside_the_month(conn: Connection) -> None:
    base = find_price_book("railway-2025-11")
    later = base.model_copy(
        update={
            "name": "railway-test-later",
            "effective_from": datetime(2025, 11, 15, tzinfo=UTC),
            "rates": base.rates.model_copy(update={"vcpu_per_second": Decimal("0.001")}),
        }
    )
    import_book(conn, later)
    a = company(conn, "Alpha")
    put(conn, H1, a, "compute_seconds", "pg_stat_statements", "60")  # 10 Nov: old book
    put(
        conn,
        datetime(2025, 11, 20, 0, tzinfo=UTC),
        a,
        "compute_seconds",
        "pg_stat_statements",
        "60",
    )
    attribute_period(conn, month_period("2025-11"))
    rows = conn.execute(
        "SELECT price_book, amount FROM tenant_cost_ledger WHERE period = '2025-11' AND mode = 'bottom_up'"
    ).fetchall()
    # 60 s x 0.000463/60 = 0.000463 ; 60 s x 0.001 = 0.06
    assert {r["price_book"]: r["amount"] for r in rows} == {
        "railway-2025-11": Decimal("0.000463000000"),
        "railway-test-later": Decimal("0.060000000000"),
    }


def test_fixed_costs_from_business_cost_allocation(conn: Connection) -> None:
    a = company(conn, "Alpha")
    plan: Any = conn.execute(
        "INSERT INTO plans (name, price_monthly) VALUES ('Pro', 25) RETURNING id"
    ).fetchone()
    conn.execute(
        "INSERT INTO subscriptions (tenant_id, plan_id, status, current_period_start, current_period_end) "
        "VALUES (%s, %s, 'active', now() - interval '1 day', now() + interval '29 days')",
        (a, plan["id"]),
    )
    conn.execute(
        "INSERT INTO vps_instances (status, tenant_id, approximate_cost) VALUES ('active', %s, 72.00)",
        (a,),
    )
    attribute_period(conn, month_period("2025-11"))
    assert ledger(conn, "2025-11", "bottom_up")[(a, "vps")] == Decimal("72.000000000000")


def report_app() -> typer.Typer:
    from tenantcost.attribution.cli import (
        attribute_command,
        cost_drivers_command,
        tenant_costs_command,
    )

    app = typer.Typer(cls=TenantcostGroup)
    app.command("attribute")(attribute_command)
    report = typer.Typer()
    report.command("tenant-costs")(tenant_costs_command)
    report.command("cost-drivers")(cost_drivers_command)
    app.add_typer(report, name="report")
    return app


def test_cli_attribute_and_reports(use_database: str, conn: Connection) -> None:
    a, b = company(conn, "Alpha"), company(conn, "Beta")
    put(conn, H1, a, "compute_seconds", "pg_stat_statements", "3600000")
    put(conn, H1, b, "compute_seconds", "pg_stat_statements", "900000")
    runner = CliRunner()
    app = report_app()
    missing = runner.invoke(app, ["report", "tenant-costs", "--month", "2025-11"])
    assert missing.exit_code == 2 and "tenantcost attribute --month 2025-11" in missing.output
    done = runner.invoke(app, ["attribute", "--month", "2025-11", "--invoice-total", "50.00"])
    assert done.exit_code == 0, done.output
    out = runner.invoke(app, ["report", "tenant-costs", "--month", "2025-11", "--format", "json"])
    rows = json.loads(out.output)
    by_company = {r["company"]: r for r in rows}
    assert by_company["Alpha"]["compute"] == "27.780000000000"  # money as a string
    assert by_company["Alpha"]["bottom_up_share_pct"] == "80.0"  # 27.78 / 34.725
    assert by_company["(idle / unattributed)"]["reconciled"] == "15.270000000000"
    assert by_company["(total)"]["reconciled"] == "50.000000000000"
    drivers = json.loads(
        runner.invoke(
            app, ["report", "cost-drivers", "--month", "2025-11", "--format", "json"]
        ).output
    )
    names = [d["driver"] for d in drivers]
    assert names == ["compute", "memory", "storage", "network", "overhead", "idle", "total"]
    idle = next(d for d in drivers if d["driver"] == "idle")
    assert idle["reconciled_share_pct"] == "30.5"  # 15.27 / 50.00
    bad = runner.invoke(app, ["attribute", "--month", "2025-11", "--invoice-total", "abc"])
    assert bad.exit_code == 2
    table = runner.invoke(app, ["report", "cost-drivers", "--month", "2025-11"])
    assert table.exit_code == 0 and "compute" in table.output
