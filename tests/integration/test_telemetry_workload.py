"""The workload driver end to end, both modes: exact query counts, idle tenant at zero."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from tenantcost.db.connect import connect
from tenantcost.telemetry.workload import TenantLoad, database_name, run_workload

pytestmark = pytest.mark.db


def loads(url: str, units: tuple[int, int, int]) -> list[TenantLoad]:
    out = []
    with connect(url, autocommit=True) as conn:
        for name, n in zip(("Ant", "Bee", "Cat"), units, strict=True):
            row: Any = conn.execute(
                "INSERT INTO companies (name) VALUES (%s) RETURNING id", (name,)
            ).fetchone()
            out.append(TenantLoad(UUID(str(row["id"])), name, n))
    return out


@pytest.mark.usefixtures("roomy_statements")
@pytest.mark.parametrize("mode", ["database", "shared"])
def test_workload_attributes_4_to_1_and_idle_gets_nothing(
    mode: str, migrated_url: str, admin_url: str
) -> None:
    tenants = loads(migrated_url, (8, 2, 0))
    try:
        # 100k rows ≈ several ms a query: 8 against 2 stays 8 against 2 on a busy machine
        result = run_workload(migrated_url, tenants, mode=mode, query_rows=100_000)  # type: ignore[arg-type]
        source = "pg_stat_statements" if mode == "database" else "app"
        with connect(migrated_url) as conn:
            rows = conn.execute(
                "SELECT tenant_id, metric, sum(quantity) AS q FROM tenant_usage_hourly "
                "WHERE source = %s AND metric IN ('query_count', 'compute_seconds') "
                "GROUP BY tenant_id, metric",
                (source,),
            ).fetchall()
        got = {(r["tenant_id"], r["metric"]): r["q"] for r in rows}
        a, b, c = (t.tenant_id for t in tenants)
        extra = 1 if mode == "shared" else 0  # shared mode also inserts each tenant's rows
        assert got[(a, "query_count")] == 8 + extra
        assert got[(b, "query_count")] == 2 + extra
        assert got.get((c, "query_count"), Decimal(0)) == 0
        assert got.get((c, "compute_seconds"), Decimal(0)) == 0
        assert got[(a, "compute_seconds")] > got[(b, "compute_seconds")] > 0
        if mode == "shared":
            assert result.recorder is not None and result.recorder.dropped_queries == 0
    finally:
        if mode == "database":
            with psycopg.connect(admin_url, autocommit=True) as admin:
                for t in tenants:
                    admin.execute(f'DROP DATABASE IF EXISTS "{database_name(t)}" WITH (FORCE)')
