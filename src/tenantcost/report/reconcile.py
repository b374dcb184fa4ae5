"""`tenantcost db verify` checks for the BI views: reconciliation to the cent, rollup health.

Reconciliation invariant: the tenants' costs (own + allocated shared) plus the lines charged
to no tenant equal the ``approximate_cost`` of every active resource (active VPS, IPs in
active/warmed/warming), exactly, under every allocation rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from tenantcost.db.connect import Connection
from tenantcost.db.verify import CheckResult, passed
from tenantcost.report.rollup import sql

#: The seed's index names and the rollup each lives on (plain views cannot be indexed).
SEED_INDEXES = {
    "idx_executive_business_summary_tenant": "executive_business_rollup",
    "idx_executive_business_summary_date": "executive_business_rollup",
    "idx_business_cost_allocation_tenant": "business_cost_allocation_rollup",
    "idx_business_cost_allocation_plan": "business_cost_allocation_rollup",
    "idx_business_cost_allocation_profit": "business_cost_allocation_rollup",
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


def check_bi_views(conn: Connection) -> Iterable[CheckResult]:
    present = conn.execute(
        "SELECT to_regclass('executive_business_summary') IS NOT NULL AS p"
    ).fetchone()
    if not (present and present["p"]):
        yield passed("BI views reconcile", False, "views missing: run `tenantcost db upgrade`")
        return
    row = conn.execute(sql("reconcile_views")).fetchone()
    assert row is not None
    yield reconciliation_result(f"BI views reconcile to the cent (rule {row['rule']})", row)
    for row in conn.execute(sql("reconcile_rules")).fetchall():
        yield reconciliation_result(f"cost allocation reconciles (rule {row['rule']})", row)
    for row in conn.execute(sql("rollup_owner")).fetchall():
        yield passed(
            f"rollup {row['relname']} readable and complete",
            bool(row["populated"] and row["reads_all"]),
            f"owner {row['owner']}, populated={row['populated']}, "
            f"owner sees every tenant={row['reads_all']} "
            "(needs superuser, BYPASSRLS or membership in business_analysts)",
        )
    found = {
        r["index_name"]: r["table_name"]
        for r in conn.execute(sql("rollup_indexes"), {"names": list(SEED_INDEXES)}).fetchall()
    }
    for index, table in SEED_INDEXES.items():
        yield passed(
            f"index {index}",
            found.get(index) == table,
            f"on {found[index]}" if index in found else "missing",
        )
