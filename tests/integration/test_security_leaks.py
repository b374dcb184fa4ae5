"""A hostile tenant session with a leaky pg_temp function sees no other tenant's rows.

For every relation a plain LOGIN member of ``application_service`` can SELECT (enumerated
from the catalog), the session adds a cheap non-leakproof function of its own to the WHERE
clause, on each column in turn; the function RAISEs a NOTICE with each row it is shown. Under the default plan,
with index scans off and with sequential scans off, on the embedded PostgreSQL 18 and on a
throwaway PostgreSQL 15: no row of the other tenant (or of shared infrastructure) may reach
it. The same check against revision 0009 (the UNION ALL security-barrier views) finds the
leak, so it can fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from tenantcost.db import migrate
from tests import pg15
from tests.conftest import create_database
from tests.integration.tenants import (
    NAME_B,
    TENANT_A,
    TENANT_B,
    act_as,
    login_role,
    refresh,
    seed_two_tenants,
    tenant_key,
)

pytestmark = pytest.mark.db


def leak_function(signature: str) -> str:
    """A cheap, not leakproof function that RAISEs a NOTICE with every value it is shown."""
    return f"""
CREATE FUNCTION {signature} RETURNS boolean
LANGUAGE plpgsql IMMUTABLE COST 0.0000001 AS $$
BEGIN
    RAISE NOTICE 'tc-seen:%', seen;
    RETURN true;
END
$$
"""


LEAK_FUNCTION = leak_function("pg_temp.tc_leak(seen anyelement)")

PLANS: dict[str, tuple[str, ...]] = {
    "default plan": (),
    "index scans off": ("enable_indexscan", "enable_bitmapscan"),
    "sequential scans off": ("enable_seqscan",),
}
SCAN_SETTINGS = ("enable_indexscan", "enable_bitmapscan", "enable_seqscan")

READABLE = """
SELECT c.oid::regclass::text AS relation,
       array_agg(quote_ident(a.attname) ORDER BY a.attnum) AS columns
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
   AND (has_table_privilege('application_service', c.oid, 'SELECT')
        OR has_table_privilege(c.oid, 'SELECT'))
   AND has_column_privilege(c.oid, a.attnum, 'SELECT')
 GROUP BY c.oid
 ORDER BY 1
"""

BASE_IDS = """
SELECT id::text FROM companies UNION ALL SELECT id::text FROM subscriptions
UNION ALL SELECT id::text FROM payments UNION ALL SELECT id::text FROM billing_analytics
UNION ALL SELECT id::text FROM vps_instances UNION ALL SELECT id::text FROM smtp_ip_addresses
"""


def prepare(url: str, *, at_0009: bool = False) -> None:
    seed_two_tenants(url)
    if not at_0009:
        refresh(url)
    with psycopg.connect(url, autocommit=True) as conn:
        if at_0009:  # that revision's own refresh, whatever the current code does
            conn.execute("SELECT tenantcost_refresh_rollups()")
        conn.execute("ANALYZE")


def foreign_markers(owner_url: str, app_url: str, enter: Callable[[Any], None]) -> set[str]:
    """Ids of every base row tenant A must not see, plus B's id and name."""
    with psycopg.connect(owner_url) as conn:
        every = {r[0] for r in conn.execute(BASE_IDS)}
    with psycopg.connect(app_url) as conn:
        enter(conn)
        own = {r[0] for r in conn.execute(BASE_IDS)}
    assert str(TENANT_A) in own and str(TENANT_B) not in own
    return (every - own) | {str(TENANT_B), NAME_B}


def hostile_session(app_url: str, enter: Callable[[Any], None], markers: set[str]) -> Any:
    """Run the attack on every readable relation and plan; return (relations, leaks)."""
    leaks: dict[str, list[str]] = {}
    seen: list[str] = []
    with psycopg.connect(app_url, autocommit=True) as conn:
        enter(conn)
        conn.add_notice_handler(lambda diag: seen.append(diag.message_primary or ""))
        conn.execute(LEAK_FUNCTION)
        relations = conn.execute(READABLE).fetchall()
        for plan, off in PLANS.items():
            for setting in SCAN_SETTINGS:
                conn.execute(f"SET {setting} = {'off' if setting in off else 'on'}")
            for relation, columns in relations:
                for column in columns:  # one cheap qual per column: the planner's favourite
                    seen.clear()
                    conn.execute(
                        f"SELECT count(*) FROM {relation} r WHERE pg_temp.tc_leak(r.{column})"
                    )
                    assert all(s.startswith("tc-seen:") for s in seen)
                    bad = [s for s in seen if any(m in s for m in markers)]
                    if bad:
                        leaks.setdefault(f"{relation} ({plan})", []).extend(bad)
    return [r[0] for r in relations], leaks


def signed(key: bytes) -> Callable[[Any], None]:
    return lambda conn: act_as(conn, key, TENANT_A)


def unsigned(conn: Any) -> None:
    conn.execute("SELECT set_config('app.current_tenant_id', %s, false)", (str(TENANT_A),))


MUST_BE_CHECKED = {
    "companies",
    "subscriptions",
    "payments",
    "billing_analytics",
    "vps_instances",
    "smtp_ip_addresses",
    "executive_business_summary",
    "business_cost_allocation",
    "tenant_business_rollup",
    "tenant_cost_allocation_rollup",
}


def assert_no_leak(admin_url: str, url: str) -> None:
    app_url = login_role(admin_url, url, "application_service")
    enter = signed(tenant_key(url))
    markers = foreign_markers(url, app_url, enter)
    relations, leaks = hostile_session(app_url, enter, markers)
    assert set(relations) >= MUST_BE_CHECKED, MUST_BE_CHECKED - set(relations)
    assert leaks == {}


@pytest.fixture
def attacked_head(migrated_url: str) -> str:
    prepare(migrated_url)
    return migrated_url


def test_no_foreign_row_reaches_a_leaky_function_pg18(admin_url: str, attacked_head: str) -> None:
    assert_no_leak(admin_url, attacked_head)


@pytest.fixture(scope="module")
def pg15_admin_url() -> Iterator[str]:
    if not pg15.available():
        pytest.skip(pg15.MISSING_REASON)
    with pg15.cluster() as url:
        yield url


def test_no_foreign_row_reaches_a_leaky_function_pg15(pg15_admin_url: str) -> None:
    url = create_database(pg15_admin_url)
    with psycopg.connect(url) as conn:
        assert conn.info.server_version // 10000 == 15
    migrate.upgrade(url)
    prepare(url)
    assert_no_leak(pg15_admin_url, url)


def leaks_at_0009(admin_url: str) -> dict[str, list[str]]:
    url = create_database(admin_url)
    migrate.upgrade(url, "0009")
    prepare(url, at_0009=True)
    app_url = login_role(admin_url, url, "application_service")
    markers = foreign_markers(url, app_url, unsigned)
    _, leaks = hostile_session(app_url, unsigned, markers)
    return leaks


def test_the_check_finds_the_0009_view_leak_pg18(admin_url: str) -> None:
    leaks = leaks_at_0009(admin_url)
    assert "tenant_business_rollup (index scans off)" in leaks
    assert any(NAME_B in s for s in leaks["tenant_business_rollup (index scans off)"])


def test_the_check_finds_the_0009_view_leak_pg15(pg15_admin_url: str) -> None:
    leaks = leaks_at_0009(pg15_admin_url)
    assert "tenant_business_rollup (default plan)" in leaks


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def test_explain_analyze_of_the_rollup_views_counts_own_rows_only(
    admin_url: str, attacked_head: str
) -> None:
    """Low item: EXPLAIN ANALYZE through the views showed other tenants' row counts."""
    app_url = login_role(admin_url, attacked_head, "application_service")
    with psycopg.connect(app_url, autocommit=True) as conn:
        act_as(conn, tenant_key(attacked_head), TENANT_A)
        for off in PLANS.values():
            for setting in SCAN_SETTINGS:
                conn.execute(f"SET {setting} = {'off' if setting in off else 'on'}")
            for view in ("tenant_business_rollup", "tenant_cost_allocation_rollup"):
                row = conn.execute(
                    f"EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM {view}"
                ).fetchone()
                assert row is not None
                nodes = list(plan_nodes(row[0][0]["Plan"]))
                assert max(n["Actual Rows"] for n in nodes) == 1, view  # A's row only
                assert all(n.get("Rows Removed by Filter", 0) == 0 for n in nodes), view
