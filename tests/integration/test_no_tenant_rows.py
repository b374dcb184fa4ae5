"""Revision 0027 on plain PostgreSQL: rows of no tenant move from tenant_id NULL to the nil
UUID (tenant_id NOT NULL, so Citus can distribute the tables) and back, every row and every
reader's output the same; the keys of tier_decisions and telemetry_app_events carry the
tenant."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tenantcost.db import NO_TENANT, migrate

pytestmark = pytest.mark.db

ACME = uuid.UUID(int=0xA1)
#: rows as the writers of revision 0026 left them: tenant lines and lines of no tenant (NULL)
ROWS_0026 = f"""
INSERT INTO companies (id, name) VALUES ('{ACME}', 'Acme');
SELECT tenantcost_ensure_usage_partition('2025-11-10 00:00+00');
INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity) VALUES
    ('2025-11-10 09:00+00', '{ACME}', 'compute_seconds', 'pg_stat_statements', 12.5),
    ('2025-11-10 09:00+00', NULL, 'compute_seconds', 'pg_stat_statements', 3.25),
    ('2025-11-10 10:00+00', NULL, 'background_cpu_seconds', 'backend_sampler', 1.5);
INSERT INTO tenant_usage_daily (day, tenant_id, metric, source, quantity, peak, last_hour,
                                last_quantity, hours) VALUES
    ('2025-11-01', '{ACME}', 'compute_seconds', 'pg_stat_statements', 40, 20, 9, 20, 2),
    ('2025-11-01', NULL, 'compute_seconds', 'pg_stat_statements', 7, 7, 3, 7, 1);
INSERT INTO tenant_cost_periods (period, period_start, period_end, covered_until, status, basis,
                                 allocation_rule, overhead_rule, currency, list_usage,
                                 tenant_usage, unattributed, background, idle, scale, total)
VALUES ('2025-11', '2025-11-01 00:00+00', '2025-12-01 00:00+00', '2025-12-01 00:00+00',
        'provisional', 'list_prices', 'none', 'none', 'USD', 1, 1, 0, 0, 0, 1, 30);
INSERT INTO tenant_cost_daily (day, line, tenant_id, driver, source, kind, price_book, quantity,
                               unit, unit_price, amount) VALUES
    ('2025-11-10', 'tenant', '{ACME}', 'compute', 'pg_stat_statements', 'measured', 'b',
     12.5, 'vCPU-second', 0.0001, 0.00125),
    ('2025-11-10', 'unattributed', NULL, 'compute', 'pg_stat_statements', 'measured', 'b',
     3.25, 'vCPU-second', 0.0001, 0.000325);
INSERT INTO tenant_cost_ledger (period, line, tenant_id, driver, source, fidelity, quantity,
                                unit, amount) VALUES
    ('2025-11', 'tenant', '{ACME}', 'vps', 'approximate_cost', 'approximate', 1, 'month', 10),
    ('2025-11', 'shared_unallocated', NULL, 'shared_vps', 'approximate_cost', 'approximate',
     1, 'month', 20);
"""
TABLES = ("tenant_usage_hourly", "tenant_usage_daily", "tenant_cost_daily", "tenant_cost_ledger")
READERS = (
    "SELECT * FROM tenant_usage_by_day ORDER BY day, tenant_id, metric, source",
    "SELECT * FROM shared_infrastructure_cost ORDER BY line, tenant_id",
    "SELECT line, tenant_id, driver, quantity, amount FROM tenantcost_priced_usage("
    "'2025-11-10 00:00+00', '2025-11-11 00:00+00', 'day', 'railway', 256, '{}'::text[])"
    " ORDER BY line, tenant_id, driver",
)


def _rows(conn: Any, query: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(query).fetchall()]


def _keys(conn: Any) -> dict[str, str]:
    """The primary keys of tier_decisions and telemetry_app_events."""
    return dict(
        conn.execute(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conname IN ('tier_decisions_pkey', 'telemetry_app_events_pkey')"
        ).fetchall()
    )


def _raw(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the four tables, with tenant_id as stored."""
    return {t: sorted(_rows(conn, f"SELECT * FROM {t}"), key=repr) for t in TABLES}


def test_0027_moves_rows_of_no_tenant_to_the_nil_uuid_and_back(empty_url: str) -> None:
    migrate.upgrade(empty_url, "0026")
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute(ROWS_0026)
        conn.execute("DELETE FROM tenant_usage_changed_days")  # as if priced
        raw_before = _raw(conn)
        no_tenant = {
            t: conn.execute(f"SELECT count(*) FROM {t} WHERE tenant_id IS NULL").fetchone()[0]  # type: ignore[index]
            for t in TABLES
        }
        read_before = [_rows(conn, q) for q in READERS]
    # the readers of revision 0026 saw the rows of no tenant
    assert [r[1] for r in read_before[1]] == [None]  # the shared line, no tenant
    assert {r[0] for r in read_before[2]} == {"tenant", "unattributed", "background"}

    migrate.upgrade(empty_url, "0027")
    with psycopg.connect(empty_url, autocommit=True) as conn:
        for table in TABLES:
            got = conn.execute(
                f"SELECT count(*) FILTER (WHERE tenant_id IS NULL),"
                f" count(*) FILTER (WHERE tenant_id = %s) FROM {table}",
                (NO_TENANT,),
            ).fetchone()
            assert got == (0, no_tenant[table]), table
            assert no_tenant[table] > 0, table
        # every reader gives what it gave (NULL for no tenant), no day marked as changed
        assert [_rows(conn, q) for q in READERS] == read_before
        assert conn.execute("SELECT count(*) FROM tenant_usage_changed_days").fetchone() == (0,)
        # a row of no tenant must say so: NULL is refused, and so is a tenant line without one
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute(
                "INSERT INTO tenant_cost_ledger (period, line, tenant_id, driver, source,"
                " fidelity, quantity, unit, amount) VALUES ('2025-11', 'idle', NULL, 'usage',"
                " 'x', 'remainder', 1, 'USD', 1)"
            )
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO tenant_cost_ledger (period, line, tenant_id, driver, source,"
                " fidelity, quantity, unit, amount) VALUES ('2025-11', 'tenant', %s, 'usage',"
                " 'x', 'remainder', 1, 'USD', 1)",
                (NO_TENANT,),
            )
        keys = _keys(conn)
    assert keys == {
        "tier_decisions": "PRIMARY KEY (tenant_id, id)",
        "telemetry_app_events": "PRIMARY KEY (tenant_id, source_id, event_id)",
    }

    migrate.upgrade(empty_url, "0027")  # idempotent: nothing to do twice
    migrate.downgrade(empty_url, "0026")
    with psycopg.connect(empty_url) as conn:
        assert _raw(conn) == raw_before
        assert [_rows(conn, q) for q in READERS] == read_before
        keys = _keys(conn)
    assert keys == {
        "tier_decisions": "PRIMARY KEY (id)",
        "telemetry_app_events": "PRIMARY KEY (source_id, event_id)",
    }
