"""FOCUS 1.3 conformance of the export, on ledger lines worked out by hand.

The month: a host compute charge of 10.00 split 6.00 (Acme) / 3.00 (Bolt) with 1.00 idle;
a shared VPS of 20.00 split evenly 10.00 / 10.00; Acme's own VPS 30.00 (no split).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tenantcost.web.focus import FOCUS_COLUMNS, REQUIRED
from tests.focus_reference import focus_rows

INFO = {
    "period": "2026-11",
    "period_start": datetime(2026, 11, 1, tzinfo=UTC),
    "period_end": datetime(2026, 12, 1, tzinfo=UTC),
    "covered_until": datetime(2026, 11, 16, tzinfo=UTC),
    "status": "provisional",
    "basis": "host_measured",
    "allocation_rule": "even",
    "overhead_rule": "none",
    "currency": "USD",
}


def line(kind: str, tenant: str | None, driver: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "line": kind,
        "tenant_id": tenant,
        "company_name": {"a": "Acme", "b": "Bolt"}.get(tenant or ""),
        "plan_name": "Basic" if tenant else None,
        "driver": driver,
        "source": extra.get("source", "test"),
        "fidelity": extra.get("fidelity", "measured"),
        "price_book": "railway-2025-11",
        "quantity": Decimal(extra.get("quantity", "1")),
        "unit": extra.get("unit", "vCPU-second"),
        "unit_price": None,
        "amount": Decimal(amount),
    }


LINES = [
    line("tenant", "a", "compute", "6.00", quantity="600"),
    line("tenant", "b", "compute", "3.00", quantity="300"),
    line("idle", None, "compute", "1.00", fidelity="remainder"),
    line("tenant", "a", "shared_vps", "10.00", unit="month", fidelity="allocated"),
    line("tenant", "b", "shared_vps", "10.00", unit="month", fidelity="allocated"),
    line("tenant", "a", "vps", "30.00", unit="month", fidelity="approximate"),
]


def test_required_columns_types_and_nullability() -> None:
    rows = focus_rows(LINES, INFO, "Railway")
    assert len(rows) == len(LINES)
    for row in rows:
        assert tuple(row) == FOCUS_COLUMNS
        for column in REQUIRED:
            assert row[column] is not None, column
        for column in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
            assert isinstance(row[column], Decimal)
        assert row["ChargeCategory"] in ("Usage", "Purchase")
        assert row["ChargePeriodStart"] == "2026-11-01T00:00:00Z"
        assert row["ChargePeriodEnd"] == "2026-11-16T00:00:00Z"  # provisional: as covered
        assert row["BillingPeriodEnd"] == "2026-12-01T00:00:00Z"
        assert row["x_Provisional"] is True
        assert all(not c.startswith("x_") or c[2:3].isupper() for c in row)


def test_split_rows_sum_to_their_origin_and_ratios_to_one() -> None:
    rows = focus_rows(LINES, INFO, "Railway")
    by_method: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["AllocatedMethodId"] is not None:
            by_method[row["AllocatedMethodId"]].append(row)
    assert set(by_method) == {"tenantcost:usage:host_measured", "tenantcost:shared:even"}
    origins = {
        "tenantcost:usage:host_measured": Decimal("10.00"),
        "tenantcost:shared:even": Decimal("20.00"),
    }
    for method, members in by_method.items():
        assert sum(r["BilledCost"] for r in members) == origins[method]
        ratios = [
            Decimal(json.loads(r["AllocatedMethodDetails"])["Elements"][0]["AllocatedRatio"])
            for r in members
        ]
        assert sum(ratios) == 1, method
        assert len({r["ServiceName"] for r in members}) == 1  # dimensions of the origin
    usage = by_method["tenantcost:usage:host_measured"]
    ratio = {r["AllocatedResourceName"]: r["AllocatedMethodDetails"] for r in usage}
    assert '"AllocatedRatio": "0.600000000000"' in ratio["Acme"]  # 6 / 10
    idle = next(r for r in usage if r["x_Line"] == "idle")
    assert idle["AllocatedResourceId"] is None and idle["AllocatedResourceName"] == "idle"
    own = next(r for r in rows if r["x_Driver"] == "vps")
    assert own["AllocatedMethodId"] is None and own["x_TenantId"] == "a"


def test_rows_of_a_tenant_sum_to_its_cost() -> None:
    rows = focus_rows(LINES, INFO, "Railway")
    acme = sum(r["BilledCost"] for r in rows if r["x_TenantId"] == "a")
    assert acme == Decimal("6.00") + Decimal("10.00") + Decimal("30.00")
