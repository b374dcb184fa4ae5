"""The seed's four dashboard queries (fixed), the shared-cost line and the tenant-cost reports.

Each report is one named query in ``queries.sql`` over ``tenant_period_figures`` /
``tenant_cost_ledger`` for one period; the dashboard's tables wrap the same queries
(``web/tables.py``), so a figure is defined once. Decimals are exact until presentation:
``places(report, people=True)`` gives cents for people, ``people=False`` the one fixed scale
per column that JSON, CSV and the API carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tenantcost.db.connect import Connection
from tenantcost.report.rollup import sql

#: Scales: money for people (cents) and machines (6 decimals: usage costs are often
#: fractions of a cent), cost per email, ratios, percentages.
MONEY_PEOPLE = 2
MONEY_MACHINE = 6
PER_EMAIL = 4
RATIO = 2
PCT = 1


@dataclass(frozen=True)
class Report:
    name: str  # CLI command
    query: str  # name in queries.sql
    title: str
    columns: tuple[str, ...]
    money: tuple[str, ...] = ()
    per_email: tuple[str, ...] = ()
    ratios: tuple[str, ...] = ()
    pcts: tuple[str, ...] = ()

    def places(self, *, people: bool) -> dict[str, int]:
        """Decimals per column: cents for people, fixed machine scales otherwise."""
        money = MONEY_PEOPLE if people else MONEY_MACHINE
        return {
            **dict.fromkeys(self.money, money),
            **dict.fromkeys(self.per_email, PER_EMAIL),
            **dict.fromkeys(self.ratios, RATIO),
            **dict.fromkeys(self.pcts, PCT),
        }


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
            money=("monthly_subscription_revenue", "total_operational_cost", "monthly_profit"),
            ratios=("gross_margin_ratio",),
        ),
        Report(
            "optimization",
            "optimization",
            "Cost optimization opportunities",
            (
                "tenant_id",
                "company_name",
                "plan_name",
                "business_health_status",
                "cost_efficiency_score",
                "optimization_category",
                "optimization_opportunity",
            ),
            money=("optimization_opportunity",),
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
                "avg_usage_cost",
                "avg_total_cost",
                "avg_monthly_profit",
                "avg_efficiency_ratio",
            ),
            money=(
                "avg_infrastructure_cost",
                "avg_email_service_cost",
                "avg_usage_cost",
                "avg_total_cost",
                "avg_monthly_profit",
            ),
            ratios=("avg_efficiency_ratio",),
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
            money=("total_monthly_cost", "monthly_profit"),
            per_email=("cost_per_email_delivered",),
            ratios=("business_efficiency_ratio",),
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
            money=("infrastructure_cost", "email_service_cost", "total_cost"),
        ),
    )
}


def quantize(value: Any, places: int) -> Any:
    """A Decimal with exactly ``places`` decimals (half up); other values unchanged."""
    if isinstance(value, Decimal):
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return value


def present(
    rows: Sequence[Mapping[str, Any]], report: Report, *, people: bool = False
) -> list[dict[str, Any]]:
    """Rows in the report's column order, every Decimal column at its fixed scale."""
    places = report.places(people=people)
    return [
        {c: quantize(row[c], places[c]) if c in places else row[c] for c in report.columns}
        for row in rows
    ]


def run_report(
    conn: Connection, name: str, period: str, *, people: bool = False
) -> list[dict[str, Any]]:
    report = REPORTS[name]
    rows = conn.execute(sql(report.query), {"period": period}).fetchall()
    return present(rows, report, people=people)
