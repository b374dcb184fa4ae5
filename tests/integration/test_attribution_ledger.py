"""The cost ledger on the real server: usage x book, fixed costs, reconciliation, closing,
reports. November 2025 is attributed as of 2025-12-01 01:00 (covered to its end, provisional)."""

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
from tenantcost.db import NO_TENANT
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
        (hour, NO_TENANT if tenant is None else tenant, metric, source, Decimal(q)),
    )


AS_OF = datetime(2025, 12, 1, 1, tzinfo=UTC)
NOV = month_period("2025-11")


def ledger(conn: Connection, period: str = "2025-11") -> dict[tuple[Any, str], Decimal]:
    """(tenant or line, driver) -> amount."""
    rows = conn.execute(
        "SELECT coalesce(nullif(tenant_id, %s)::text, line) AS who, driver,"
        " sum(amount) AS amount "
        "FROM tenant_cost_ledger WHERE period = %s GROUP BY 1, driver",
        (NO_TENANT, period),  # no tenant: the nil UUID (revision 0027)
    ).fetchall()
    return {
        (UUID(r["who"]) if "-" in r["who"] else r["who"], r["driver"]): r["amount"] for r in rows
    }


def attribute(conn: Connection, **kwargs: Any) -> Any:
    return attribute_period(conn, NOV, as_of=kwargs.pop("as_of", AS_OF), **kwargs)


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
    result = attribute(conn)
    got = ledger(conn)
    # Railway: $0.000463/vCPU-min, $0.000231/GB-min, $0.15/GB-month, $0.05/GB
    assert got[(a, "compute")] == Decimal("0.004630000000")  # 600 s = 10 min x 0.000463
    assert got[(b, "compute")] == Decimal("0.001157500000")  # 150 s = 2.5 min x 0.000463
    assert got[(b, "network")] == Decimal("0.100000000000")  # 2 GB x 0.05
    assert got[(a, "memory")] == Decimal(
        "0.000138600000"
    )  # 3600 s x 0.01 GB = 36 GB-s = 0.6 GB-min
    assert got[(a, "storage")] == Decimal("0.000208333333")  # 1 GB for 1 of 720 h x 0.15
    # usage no tenant mapping claims is a line of its own: 50 s x 0.000463 / 60
    assert got[("unattributed", "compute")] == Decimal("0.000385833333")
    assert all(isinstance(v, Decimal) for v in got.values())
    assert result.basis == "list_prices" and result.idle == 0  # no invoice, no host figures
    assert any("no invoice and no host measurement" in n for n in result.notes)
    figures = conn.execute(
        "SELECT tenant_id, usage_cost, compute_source FROM tenant_period_figures"
    ).fetchall()
    by_tenant = {r["tenant_id"]: r for r in figures}
    # A: compute 0.00463 + memory 0.0001386 + storage 0.000208333333
    assert by_tenant[a]["usage_cost"] == Decimal("0.004976933333")
    assert by_tenant[a]["compute_source"] == "pg_stat_statements"
    assert by_tenant[b]["compute_source"] == "app"

    # Re-running the month replaces its rows instead of adding to them.
    attribute(conn)
    assert ledger(conn) == got
    count = conn.execute("SELECT count(*) AS n FROM tenant_cost_periods").fetchone()
    assert count is not None and count["n"] == 1


def test_invoice_reconciliation_sums_to_the_cent(conn: Connection) -> None:
    a, b = company(conn, "Alpha"), company(conn, "Beta")
    put(conn, H1, a, "compute_seconds", "pg_stat_statements", "3600000")  # 60000 min -> $27.78
    put(conn, H1, b, "compute_seconds", "pg_stat_statements", "900000")  # 15000 min -> $6.945
    result = attribute(conn, invoice_total=Decimal("50.00"))
    rec = ledger(conn)
    # attributed 27.78 + 6.945 = 34.725 fits the 50.00 invoice: tenants keep their list-price
    # amounts, idle = 50.00 - 34.725 = 15.275 (one line for all usage drivers)
    assert rec[(a, "compute")] == Decimal("27.78")
    assert rec[(b, "compute")] == Decimal("6.945")
    assert rec[("idle", "usage")] == Decimal("15.275")
    assert sum(rec.values()) == Decimal("50.00")
    assert result.basis == "invoice" and result.status == "closed"  # an ended month's invoice
    stored = conn.execute("SELECT amount FROM host_invoices WHERE period = '2025-11'").fetchone()
    assert stored is not None and stored["amount"] == Decimal("50.00")
    # The stored invoice is used again next time without the option.
    attribute(conn, reopen="check the reuse of the invoice")
    assert ledger(conn) == rec


def test_invoice_below_usage_scales_every_line_down(conn: Connection) -> None:
    a, b = company(conn, "Alpha"), company(conn, "Beta")
    put(conn, H1, a, "compute_seconds", "pg_stat_statements", "3600000")  # 27.78
    put(conn, H1, b, "compute_seconds", "pg_stat_statements", "900000")  # 6.945
    result = attribute(conn, invoice_total=Decimal("10.00"))
    rec = ledger(conn)
    # 34.725 > 10.00: scaled by 10 / 34.725; 27.78 x 0.287976... = 8.0000, 6.945 x ... = 2.0000
    assert rec[(a, "compute")] == Decimal("8.00") and rec[(b, "compute")] == Decimal("2.00")
    assert ("idle", "usage") not in rec and result.idle == 0
    assert round(result.scale, 6) == Decimal("0.287977")


def test_invoice_import_closes_an_ended_month_and_reopening_is_recorded(
    conn: Connection,
) -> None:
    a = company(conn, "Alpha")
    put(conn, H1, a, "compute_seconds", "pg_stat_statements", "60")
    late = datetime(2025, 12, 10, tzinfo=UTC)
    assert attribute(conn, invoice_total=Decimal("1.00"), as_of=late).status == "closed"
    from tenantcost.errors import UserError

    with pytest.raises(UserError, match="is closed"):
        attribute(conn, as_of=late)
    again = attribute(conn, as_of=late, reopen="invoice corrected")
    assert again.status == "closed"  # recomputed, and closed again: the invoice is there
    audit = conn.execute(
        "SELECT entity_id, old_value, new_value, reason FROM cost_audit WHERE entity = 'period'"
    ).fetchall()
    assert audit == [
        {
            "entity_id": "2025-11",
            "old_value": "closed",
            "new_value": "provisional",
            "reason": "invoice corrected",
        }
    ]


def test_a_month_closes_on_its_own_after_the_close_hours(conn: Connection) -> None:
    a = company(conn, "Alpha")
    put(conn, H1, a, "compute_seconds", "pg_stat_statements", "60")
    # default TENANTCOST_PERIOD_CLOSE_HOURS = 72: Dec 3 23:00 is 71 h after, Dec 4 00:00 is 72
    assert attribute(conn, as_of=datetime(2025, 12, 3, 23, tzinfo=UTC)).status == "provisional"
    assert attribute(conn, as_of=datetime(2025, 12, 4, tzinfo=UTC)).status == "closed"


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
    attribute(conn)
    rows = conn.execute(
        "SELECT price_book, amount FROM tenant_cost_ledger WHERE period = '2025-11'"
    ).fetchall()
    # 60 s x 0.000463/60 = 0.000463 ; 60 s x 0.001 = 0.06
    assert {r["price_book"]: r["amount"] for r in rows} == {
        "railway-2025-11": Decimal("0.000463000000"),
        "railway-test-later": Decimal("0.060000000000"),
    }


def test_fixed_costs_accrue_with_the_month(conn: Connection) -> None:
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
    attribute(conn)
    assert ledger(conn)[(a, "vps")] == Decimal("72.000000000000")  # the whole month
    # 10 days into November: 10/30 of the month's VPS and of the plan's 25.00
    attribute(conn, as_of=datetime(2025, 11, 11, tzinfo=UTC))
    assert ledger(conn)[(a, "vps")] == Decimal("24.000000000000")  # 72 x 1/3
    row = conn.execute("SELECT revenue, total_operational_cost FROM tenant_period_figures")
    assert row.fetchone() == {
        "revenue": Decimal("8.333333333333"),  # 25 x 1/3, to 12 places
        "total_operational_cost": Decimal("24.000000000000"),
    }


def report_app() -> typer.Typer:
    from tenantcost.attribution.cli import (
        attribute_command,
        cost_drivers_command,
        quality_command,
        tenant_costs_command,
    )

    app = typer.Typer(cls=TenantcostGroup)
    app.command("attribute")(attribute_command)
    report = typer.Typer()
    report.command("tenant-costs")(tenant_costs_command)
    report.command("cost-drivers")(cost_drivers_command)
    report.command("quality")(quality_command)
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
    by_company = {r["company_name"]: r for r in rows}
    assert by_company["Alpha"]["compute"] == "27.780000"  # money as a string, 6 decimals
    assert by_company["Alpha"]["share_pct"] == "55.6"  # 27.78 / 50.00
    assert by_company["(idle: host total not used by anyone)"]["overhead"] == "15.275000"
    assert by_company["(total)"]["total_cost"] == "50.000000"
    drivers = json.loads(
        runner.invoke(
            app, ["report", "cost-drivers", "--month", "2025-11", "--format", "json"]
        ).output
    )
    assert [(d["line"], d["key"], d["amount"]) for d in drivers] == [
        ("tenant", "compute", "34.725000"),
        ("idle", "usage", "15.275000"),
        ("total", "total", "50.000000"),
    ]
    assert drivers[1]["share_pct"] == "30.6"  # 15.275 / 50.00 = 30.55 -> 30.6 (half up)
    quality = json.loads(
        runner.invoke(app, ["report", "quality", "--month", "2025-11", "--format", "json"]).output
    )[0]
    assert quality["basis"] == "invoice" and quality["tenant_share_pct"] == "69.5"  # 34.725/50
    assert quality["invoice_error_pct"] == "-30.6"  # list prices 34.725 vs invoice 50.00
    bad = runner.invoke(app, ["attribute", "--month", "2025-11", "--invoice-total", "abc"])
    assert bad.exit_code == 2
    table = runner.invoke(app, ["report", "cost-drivers", "--month", "2025-11"])
    assert table.exit_code == 0 and "Compute" in table.output


def test_the_default_month_is_the_latest_with_a_week_of_data(conn: Connection) -> None:
    from tenantcost.report.rollup import latest_period

    attribute(conn)  # November 2025, covered to its end
    december = month_period("2025-12")
    attribute_period(conn, december, as_of=datetime(2025, 12, 7, 23, tzinfo=UTC))
    assert latest_period(conn) == "2025-11"  # 6 days 23 hours of December: not yet
    attribute_period(conn, december, as_of=datetime(2025, 12, 8, tzinfo=UTC))
    assert latest_period(conn) == "2025-12"  # a full week
    conn.execute("DELETE FROM tenant_cost_periods WHERE period = '2025-11'")
    attribute_period(conn, december, as_of=datetime(2025, 12, 1, 5, tzinfo=UTC))
    assert latest_period(conn) == "2025-12"  # the only month shows from its first hours
