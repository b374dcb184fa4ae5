"""The seed's four dashboard queries (fixed) and the shared-cost line, as report rows.

Each report is one named query in ``queries.sql`` written against the views' column names;
it reads the materialized rollups (fast) or, with ``live``, the plain views.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from psycopg import sql as pgsql

from tenantcost.db.connect import Connection
from tenantcost.report.rollup import sql

#: Source relations: (rollup-backed, live view) per shape.
SOURCES: dict[str, tuple[str, str]] = {
    "summary": ("tenant_business_rollup", "executive_business_summary"),
    "allocation": ("tenant_cost_allocation_rollup", "business_cost_allocation"),
    "shared": ("shared_cost_rollup", "shared_infrastructure_cost"),
}

CENTS = 2
PER_EMAIL = 4


@dataclass(frozen=True)
class Report:
    name: str  # CLI command
    query: str  # name in queries.sql
    title: str
    columns: tuple[str, ...]
    #: Decimal columns and their decimals in the output (money 2, cost per email 4, ratios 2).
    places: Mapping[str, int] = field(default_factory=dict)


REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report(
            "health",
            "health",
            "Daily executive health check",
            (
                "tenant_id",
                "company_name",
                "plan_name",
                "business_health_status",
                "cost_efficiency_score",
                "gross_margin_ratio",
                "monthly_subscription_revenue",
                "total_operational_cost",
                "monthly_profit",
            ),
            {
                "gross_margin_ratio": 2,
                "monthly_subscription_revenue": CENTS,
                "total_operational_cost": CENTS,
                "monthly_profit": CENTS,
            },
        ),
        Report(
            "optimization",
            "optimization",
            "Cost optimization opportunities",
            (
                "tenant_id",
                "company_name",
                "business_health_status",
                "cost_efficiency_score",
                "optimization_category",
                "optimization_opportunity",
            ),
            {"optimization_opportunity": CENTS},
        ),
        Report(
            "cost-by-plan",
            "cost_by_plan",
            "Monthly cost analysis by plan",
            (
                "plan_name",
                "tenant_count",
                "avg_infrastructure_cost",
                "avg_email_service_cost",
                "avg_total_cost",
                "avg_monthly_profit",
                "avg_efficiency_ratio",
            ),
            {
                "avg_infrastructure_cost": CENTS,
                "avg_email_service_cost": CENTS,
                "avg_total_cost": CENTS,
                "avg_monthly_profit": CENTS,
                "avg_efficiency_ratio": 2,
            },
        ),
        Report(
            "cost-per-email",
            "cost_per_email",
            "Cost per email",
            (
                "tenant_id",
                "company_name",
                "plan_name",
                "cost_per_email_delivered",
                "total_monthly_cost",
                "monthly_profit",
                "business_efficiency_ratio",
                "efficiency_category",
            ),
            {
                "cost_per_email_delivered": PER_EMAIL,
                "total_monthly_cost": CENTS,
                "monthly_profit": CENTS,
                "business_efficiency_ratio": 2,
            },
        ),
        Report(
            "shared",
            "shared",
            "Shared and unallocated infrastructure cost",
            (
                "line",
                "tenant_id",
                "company_name",
                "infrastructure_cost",
                "email_service_cost",
                "total_cost",
                "allocation_rule",
            ),
            {"infrastructure_cost": CENTS, "email_service_cost": CENTS, "total_cost": CENTS},
        ),
    )
}


def quantize(value: Any, places: int) -> Any:
    """A Decimal shown with exactly ``places`` decimals (half up); other values unchanged."""
    if isinstance(value, Decimal):
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return value


def present(rows: Sequence[Mapping[str, Any]], report: Report) -> list[dict[str, Any]]:
    """Rows in the report's column order with every money column at its fixed decimals."""
    return [
        {
            c: quantize(row[c], report.places[c]) if c in report.places else row[c]
            for c in report.columns
        }
        for row in rows
    ]


def statement(report: Report, *, live: bool) -> pgsql.Composed:
    """The report's query with its source relations filled in."""
    names = {shape: pgsql.Identifier(pair[1 if live else 0]) for shape, pair in SOURCES.items()}
    return pgsql.SQL(sql(report.query)).format(**names)


def run_report(conn: Connection, name: str, *, live: bool = False) -> list[dict[str, Any]]:
    report = REPORTS[name]
    rows = conn.execute(statement(report, live=live)).fetchall()
    return present(rows, report)
