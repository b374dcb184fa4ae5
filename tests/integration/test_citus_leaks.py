"""The leaky-function attack of test_security_leaks, on a Citus cluster.

The application is distributed first (app_shape: companies by id, its tenant tables by
tenant_id, the VPS/IP tables as reference tables), tenantcost installed into it and its
figures computed. The attacker's function is the strongest kind: not a ``pg_temp`` one (Citus
cannot send that to the workers, so the query fails and no row reaches it) but one defined on
every node (``create_distributed_function``), cheap and not leakproof, which RAISEs a NOTICE
with each value it is shown; Citus forwards the workers' notices. A plain LOGIN member of
``application_service``, signed in as Acme with ``SET LOCAL`` in each transaction (what Citus
needs to carry the tenant to the workers), puts it in the WHERE clause of every relation it
can read, on each column, under the default plan, with index scans off and with sequential
scans off (``SET LOCAL``, carried to the workers too). No value of Beta's rows, nor of
shared infrastructure, may reach it; Acme's own values must (else the check is blind).
"""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from tenantcost.db import migrate
from tenantcost.db.tenancy import read_key, set_tenant
from tests.integration.app_shape import (
    ACME,
    APP_ROWS,
    APP_SCHEMA,
    BETA,
    own_and_price_the_vps,
)
from tests.integration.tenants import refresh
from tests.integration.test_citus import app_login, citus_url, needs_citus  # noqa: F401
from tests.integration.test_security_leaks import (
    BASE_IDS,
    MUST_BE_CHECKED,
    PLANS,
    READABLE,
    SCAN_SETTINGS,
    leak_function,
)

pytestmark = pytest.mark.db

LEAK_EVERYWHERE = leak_function("public.tc_leak(seen text)")


@needs_citus
def test_no_foreign_row_reaches_a_leaky_function_on_the_workers(
    citus_url: str,  # noqa: F811
) -> None:
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute("SET citus.shard_count = 4")  # every query fans out: keep it short
        conn.execute(APP_SCHEMA)
        conn.execute(APP_ROWS)
    migrate.upgrade(citus_url)
    own_and_price_the_vps(citus_url)
    refresh(citus_url)
    with psycopg.connect(citus_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
        conn.execute(LEAK_EVERYWHERE)
        conn.execute("SELECT create_distributed_function('public.tc_leak(text)')")
        key = read_key(conn)
        every = {r[0] for r in conn.execute(BASE_IDS)}
        beta_figures = conn.execute(
            "SELECT count(*) FROM tenant_period_figures WHERE tenant_id = %s", (BETA,)
        ).fetchone()
    assert beta_figures is not None and beta_figures[0] > 0  # Beta's figures are there to leak
    seen: list[str] = []
    leaks: dict[str, list[str]] = {}
    with app_login(citus_url) as app_url, psycopg.connect(app_url) as conn:
        conn.add_notice_handler(lambda diag: seen.append(diag.message_primary or ""))
        with conn.transaction():
            set_tenant(conn, key, ACME)
            own = {r[0] for r in conn.execute(BASE_IDS)}
            relations = conn.execute(READABLE).fetchall()
        assert str(ACME) in own and str(BETA) not in own
        markers = (every - own) | {str(BETA), "Beta"}
        reached: set[str] = set()
        for plan, off in PLANS.items():
            for relation, columns in relations:
                for column in columns:
                    seen.clear()
                    with conn.transaction():
                        set_tenant(conn, key, ACME)
                        for setting in SCAN_SETTINGS:
                            value = "off" if setting in off else "on"
                            conn.execute(f"SET LOCAL {setting} = {value}")
                        conn.execute(
                            f"SELECT count(*) FROM {relation} r"
                            f" WHERE public.tc_leak(r.{column}::text)"
                        )
                    assert all(s.startswith("tc-seen:") for s in seen)
                    reached.update(s.removeprefix("tc-seen:") for s in seen)
                    bad = [s for s in seen if any(m in s for m in markers)]
                    if bad:
                        leaks.setdefault(f"{relation} ({plan})", []).extend(bad)
    # the check sees the workers' rows: Acme's own values reached the function there
    assert {str(ACME), "Acme", str(Decimal("25.00"))} <= reached
    assert {r[0] for r in relations} >= MUST_BE_CHECKED
    assert leaks == {}
