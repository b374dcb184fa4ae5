"""`tenantcost db verify` checks for the cost model: reconciliation, figures, indexes.

Invariants, each checked from the database's own rows:

- every allocation rule puts each active resource's monthly cost on exactly one line
  (tenants + shared lines = active VPS + billable IPs, to the cent);
- the latest period's fixed lines are those monthly costs x the covered share of the month;
- each tenant's figures are its ledger lines, and the ledger's lines add up to the period's
  total (tenants + lines charged to no tenant).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from tenantcost.attribution.arith import CENT, accrual_fraction
from tenantcost.db.checks import CheckResult, passed
from tenantcost.db.connect import Connection
from tenantcost.report.rollup import latest_period, sql

#: The seed's index names, on the figures table (plain views cannot be indexed).
SEED_INDEXES = {
    "idx_executive_business_summary_tenant": "tenant_period_figures",
    "idx_executive_business_summary_date": "tenant_period_figures",
    "idx_business_cost_allocation_tenant": "tenant_period_figures",
    "idx_business_cost_allocation_plan": "tenant_period_figures",
    "idx_business_cost_allocation_profit": "tenant_period_figures",
}


def reconciles(tenants: Decimal, unallocated: Decimal, resources: Decimal) -> bool:
    """True when tenants + unallocated equals the resources' cost to the cent (and no line is
    negative)."""
    return unallocated >= 0 and tenants >= 0 and tenants + unallocated == resources


def reconciliation_result(label: str, row: Mapping[str, Any]) -> CheckResult:
    tenants, unallocated, resources = (
        Decimal(row["tenants"]),
        Decimal(row["unallocated"]),
        Decimal(row["resources"]),
    )
    return passed(
        label,
        reconciles(tenants, unallocated, resources),
        f"tenants {tenants} + unallocated {unallocated} = {tenants + unallocated}; "
        f"active resources {resources}",
    )


def _cents(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


def check_bi_views(conn: Connection) -> Iterable[CheckResult]:
    present = conn.execute(
        "SELECT to_regclass('tenant_period_figures') IS NOT NULL AS p"
    ).fetchone()
    if not (present and present["p"]):
        yield passed("cost model present", False, "tables missing: run `tenantcost db upgrade`")
        return
    for row in conn.execute(sql("reconcile_rules")).fetchall():
        yield reconciliation_result(f"cost allocation reconciles (rule {row['rule']})", row)
    yield from check_period(conn)
    for row in conn.execute(sql("figures_owner")).fetchall():
        yield passed(
            "figures table owner sees every tenant",
            bool(row["reads_all"]),
            f"owner {row['owner']} (needs superuser, BYPASSRLS or membership in "
            "db_administrators to recompute figures)",
        )
    found = {
        r["index_name"]: r["table_name"]
        for r in conn.execute(sql("seed_indexes"), {"names": list(SEED_INDEXES)}).fetchall()
    }
    for index, table in SEED_INDEXES.items():
        yield passed(
            f"index {index}",
            found.get(index) == table,
            f"on {found[index]}" if index in found else "missing",
        )


def check_period(conn: Connection) -> Iterable[CheckResult]:
    period = latest_period(conn)
    if period is None:
        yield CheckResult("latest period reconciles", "SKIP", "no period attributed yet")
        return
    info: Any = conn.execute(sql("period"), {"period": period}).fetchone()
    row: Any = conn.execute(sql("reconcile_figures"), {"period": period}).fetchone()
    figures, tenant_lines = _cents(row["figures"]), _cents(row["tenant_lines"])
    yield passed(
        f"{period}: figures equal their ledger lines",
        figures == tenant_lines,
        f"figures {figures}, tenant ledger lines {tenant_lines}",
    )
    ledger, total = Decimal(row["ledger_total"]), Decimal(row["period_total"])
    yield passed(
        f"{period}: ledger lines add up to the period total",
        ledger == total,
        f"lines {ledger}, total {total}",
    )
    if info["status"] == "provisional":
        fixed: Any = conn.execute(sql("reconcile_fixed"), {"period": period}).fetchone()
        fraction = accrual_fraction(info["period_start"], info["period_end"], info["covered_until"])
        expected = _cents(Decimal(fixed["monthly_resources"]) * fraction)
        got = _cents(fixed["lines"])
        yield passed(
            f"{period}: VPS and IP lines = active resources x covered share",
            abs(got - expected) <= CENT,
            f"lines {got}, resources {fixed['monthly_resources']} x {fraction:.6f} = {expected}"
            " (recompute with `tenantcost report refresh` after editing costs by hand)",
        )
