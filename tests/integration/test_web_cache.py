"""Dashboard caching and streaming against a real server on 127.0.0.1 and a real PostgreSQL.

Figures are the hand-made fleet's (tests/e2e/webfleet.py): Acme costs 30.00 (own VPS) + 4.99
(its IP) = 34.99 in November 2025; Bolt 10.00; Cirrus 4.99; a shared VPS of 20.00.
Whether the cache served or computed is read from its counter on /metrics, never from timing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal

import httpx
import psycopg
import pytest

from tenantcost.attribution.ledger import attribute_period
from tenantcost.costs import store
from tenantcost.db.connect import connect
from tenantcost.telemetry.timeutil import month_period
from tenantcost.web import focus
from tenantcost.web.render import csv_text
from tenantcost.web.tables import TABLES, fetch, parse_query
from tests import focus_reference
from tests.e2e.webfleet import (
    ACME,
    AS_OF,
    BOLT,
    CIRRUS,
    MONTH,
    PASSWORDS,
    Fleet,
    load_small_fleet,
    token_client,
)

pytestmark = pytest.mark.db


@pytest.fixture
def served(migrated_url: str) -> Iterator[tuple[Fleet, httpx.Client]]:
    fleet = load_small_fleet(migrated_url)
    with token_client(fleet) as c:
        yield fleet, c


def computes(c: httpx.Client) -> int:
    """How often the server's page cache has computed from the database so far."""
    for line in c.get("/metrics").text.splitlines():
        if line.startswith("tenantcost_web_cache_computes_total "):
            return int(line.split()[1])
    raise AssertionError("no cache counter on /metrics")


def test_pages_serve_cached_figures_until_the_next_refresh(
    served: tuple[Fleet, httpx.Client],
) -> None:
    fleet, c = served
    page = f"/tenants/{ACME}?period={MONTH}"
    first = c.get(page)
    assert first.status_code == 200 and "$34.99" in first.text
    health = c.get(f"/health?period={MONTH}").text
    before = computes(c)
    # Served again from the cache: nothing computed, the same page.
    assert c.get(page).text == first.text
    assert c.get(f"/health?period={MONTH}").text == health
    assert computes(c) == before

    # A figure written behind the cost model's back (no refresh, no counted change) is not
    # seen: the cache keeps serving what the last refresh gave.
    with psycopg.connect(fleet.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE tenant_period_figures SET total_operational_cost = 1234.56 "
            "WHERE tenant_id = %s AND period = %s",
            (ACME, MONTH),
        )
    assert "$1,234.56" not in c.get(page).text
    assert computes(c) == before

    # A cost input edited by hand is counted: the next request recomputes and says stale.
    with psycopg.connect(fleet.url, autocommit=True) as conn:
        conn.execute("UPDATE vps_instances SET approximate_cost = 40.00 WHERE name = 'acme-1'")
    stale = c.get(page).text
    assert "Stale: 1 change(s)" in stale and "$1,234.56" in stale
    assert computes(c) > before

    # The refresh (re-attributing the month) is visible on the very next request:
    # Acme 40.00 + 4.99 = 44.99, and the health table's total cost moved with it.
    with connect(fleet.url) as conn:
        attribute_period(conn, month_period(MONTH), as_of=AS_OF)
    after = c.get(page).text
    assert "$44.99" in after and "Stale:" not in after
    assert "$44.99" in c.get(f"/health?period={MONTH}").text


def test_a_table_counts_its_rows_once_per_refresh(served: tuple[Fleet, httpx.Client]) -> None:
    _, c = served
    # Efficiency score order: Bolt 90, Acme 65, Cirrus 0 (see test_web's arithmetic).
    url = f"/api/v1/tables/health?period={MONTH}&per_page=1"
    first = c.get(url + "&page=1").json()
    before = computes(c)
    pages = [c.get(url + f"&page={n}").json() for n in (2, 3, 4)]
    assert computes(c) == before  # pages 2-4 reuse page 1's count
    assert [p["total"] for p in [first, *pages]] == [3, 3, 3, 3]
    assert [p["pages"] for p in [first, *pages]] == [3, 3, 3, 3]
    assert [r["company_name"] for p in [first, *pages] for r in p["rows"]] == [
        "Bolt",
        "Acme",
        "Cirrus",
    ]
    assert pages[-1]["rows"] == []  # past the end: empty, the total still known


def test_made_up_parameters_share_the_pages_cached_entry(
    served: tuple[Fleet, httpx.Client],
) -> None:
    _, c = served
    health = c.get(f"/health?period={MONTH}").text
    tenant = c.get(f"/tenants/{ACME}?period={MONTH}").text
    before = computes(c)
    for junk in ("x=1", "cache_buster=2", "utm_source=mail&y=3"):
        assert c.get(f"/health?period={MONTH}&{junk}").text == health
        assert c.get(f"/tenants/{ACME}?period={MONTH}&{junk}").text == tenant
    assert computes(c) == before


def test_another_page_of_a_table_computes_only_that_page_and_table(
    served: tuple[Fleet, httpx.Client],
) -> None:
    _, c = served
    first = c.get(f"/health?period={MONTH}&per_page=1").text
    assert "page 1 of 3" in first
    before = computes(c)
    second = c.get(f"/health?period={MONTH}&per_page=1&page=2").text
    assert "page 2 of 3" in second
    # the page and its health table: the order (kept from page 1), the other table, the
    # health counts, plans and months are all reused
    assert computes(c) - before == 2


def test_streamed_csv_equals_the_whole_table_and_export(
    served: tuple[Fleet, httpx.Client],
) -> None:
    fleet, c = served
    with connect(fleet.url) as conn:
        # Split the shared VPS evenly: 20.00 / 3 has a remainder, carried by the split rows.
        store.set_setting(conn, "shared_cost_allocation", "even", "test")
        attribute_period(conn, month_period(MONTH), as_of=AS_OF)
        spec = TABLES["health"]
        query = parse_query(spec, {"sort": "monthly_profit", "order": "asc"}, MONTH)
        whole_table = csv_text(fetch(conn, spec, query, paged=False).rows, spec.columns)
        info = conn.execute(focus.sql("focus_period"), {"period": MONTH}).fetchone()
        lines = conn.execute(focus.sql("focus_lines"), {"period": MONTH}).fetchall()
        whole_export = csv_text(
            focus_reference.focus_rows(lines, info, "Railway"), focus.FOCUS_COLUMNS
        )

    table = c.get(f"/health?period={MONTH}&format=csv&sort=monthly_profit&order=asc")
    assert table.headers["content-type"].startswith("text/csv")
    assert table.text == whole_table
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [r["company_name"] for r in rows] == ["Cirrus", "Acme", "Bolt"]  # profit ascending

    export = c.get("/api/v1/export/focus", params={"period": MONTH}).text
    assert export == whole_export
    focus_rows = list(csv.DictReader(io.StringIO(export)))
    assert list(focus_rows[0]) == list(focus.FOCUS_COLUMNS)
    by_tenant: dict[str, Decimal] = {}
    for r in focus_rows:
        by_tenant[r["x_TenantId"]] = by_tenant.get(r["x_TenantId"], Decimal(0)) + Decimal(
            r["BilledCost"]
        )
    # The shared 20.00 split evenly in cents: 6.66 each and the 2 remaining cents to two of
    # the three tenants (largest remainder), so the shares are 6.67, 6.67 and 6.66.
    own = {str(ACME): Decimal("34.99"), str(BOLT): Decimal("10.00"), str(CIRRUS): Decimal("4.99")}
    shares = sorted(by_tenant[t] - cost for t, cost in own.items())
    assert shares == [Decimal("6.66"), Decimal("6.67"), Decimal("6.67")]
    shared = [r for r in focus_rows if r["x_Driver"] == "shared_vps"]
    assert sum(Decimal(r["BilledCost"]) for r in shared) == Decimal("20.00")
    assert sum(Decimal(r["BilledCost"]) for r in focus_rows) == Decimal("69.98")


def test_the_export_defaults_to_the_latest_month_with_lines(
    served: tuple[Fleet, httpx.Client],
) -> None:
    fleet, c = served
    with psycopg.connect(fleet.url, autocommit=True) as conn:
        # A later month attributed with no ledger line (e.g. a fresh month, nothing priced).
        conn.execute(
            "INSERT INTO tenant_cost_periods SELECT (jsonb_populate_record("
            "NULL::tenant_cost_periods, to_jsonb(p) || jsonb_build_object('period', '2025-12',"
            " 'period_start', p.period_end,"
            " 'period_end', p.period_end + interval '1 month',"
            " 'covered_until', p.period_end + interval '1 month'))).*"
            " FROM tenant_cost_periods p WHERE period = %s",
            (MONTH,),
        )
        latest = conn.execute("SELECT tenantcost_latest_period()").fetchone()
        assert latest == ("2025-12",)
    rows = list(csv.DictReader(io.StringIO(c.get("/api/v1/export/focus").text)))
    assert rows and {r["BillingPeriodStart"] for r in rows} == {"2025-11-01T00:00:00Z"}


def test_live_parts_are_read_on_every_request_of_a_cached_page(
    served: tuple[Fleet, httpx.Client],
) -> None:
    """The overview's and the tenant page's content is kept until the next refresh, but their
    tier signals, alerts and outbox backlog (written between refreshes) are not."""
    fleet, c = served
    overview, tenant = f"/?period={MONTH}", f"/tenants/{ACME}?period={MONTH}"
    assert "no tier signal in force" in c.get(overview).text
    assert "no alert about this tenant" in c.get(tenant).text
    before = computes(c)
    with psycopg.connect(fleet.url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tier_decisions (tenant_id, tier, hour, from_level, to_level, ceiling,"
            " figure, ceiling_value, ratio) VALUES"
            " (%s, 'PRO', '2025-11-30 23:00+00', 'normal', 'soft_throttle', 'cost', 3, 2, 1.5)",
            (ACME,),
        )
        conn.execute(
            "INSERT INTO tier_alerts (kind, subject, opened_at, last_seen_at, message)"
            " VALUES ('cost_jump', %s, now(), now(), 'Acme cost jumped x7')",
            (str(ACME),),
        )
        conn.execute(
            "INSERT INTO outbox (sink, dedupe_key, payload) VALUES ('webhook', 'k1', '{}')"
        )
    page = c.get(overview).text
    assert "no tier signal in force" not in page and "table-decisions" in page
    assert "Acme cost jumped x7" in page
    assert "Waiting to be delivered (webhook): 1 event" in page
    page = c.get(tenant).text
    assert "table-tenant-decisions" in page and "Soft throttle" in page
    assert "Acme cost jumped x7" in page and "$34.99" in page
    assert computes(c) == before  # the content came from the cache: only the live part was read


def test_role_token_and_session_changes_apply_to_the_next_request_of_a_cached_page(
    served: tuple[Fleet, httpx.Client],
) -> None:
    """The cache keeps figures, never who may see them: every request still checks its token
    or session with the database (in the round trip that reads the figures' generation)."""
    fleet, c = served
    with httpx.Client(
        base_url=str(c.base_url), headers={"Authorization": f"Bearer {fleet.tokens['dee']}"}
    ) as dee:
        assert dee.get(f"/health?period={MONTH}").status_code == 200
        assert dee.get("/api/v1/settings").status_code == 200
        before = computes(dee)
        assert dee.get(f"/health?period={MONTH}").status_code == 200
        assert computes(dee) == before  # served from the cache
        with psycopg.connect(fleet.url, autocommit=True) as conn:
            conn.execute("UPDATE dashboard_users SET role = 'executive' WHERE name = 'dee'")
        assert dee.get("/api/v1/settings").status_code == 403  # the role change, at once
        assert dee.get(f"/health?period={MONTH}").status_code == 200  # still a reader
        with psycopg.connect(fleet.url, autocommit=True) as conn:
            conn.execute("UPDATE dashboard_users SET token_hash = NULL WHERE name = 'dee'")
        assert dee.get(f"/api/v1/tables/health?period={MONTH}").status_code == 401
        assert dee.get(f"/health?period={MONTH}").status_code == 303  # to the login page

    with httpx.Client(base_url=str(c.base_url)) as browser:
        login = browser.post(
            "/login",
            data={"name": "ana", "password": PASSWORDS["ana"], "login_csrf": "t" * 20},
            headers={"Cookie": "tc_login=" + "t" * 20},
        )
        assert login.status_code == 303
        assert browser.get(f"/health?period={MONTH}").status_code == 200
        with psycopg.connect(fleet.url, autocommit=True) as conn:  # a logout elsewhere
            conn.execute("DELETE FROM dashboard_sessions")
        assert browser.get(f"/health?period={MONTH}").status_code == 303


def test_every_response_carries_the_security_headers(served: tuple[Fleet, httpx.Client]) -> None:
    _, c = served
    for path, status in (
        (f"/health?period={MONTH}", 200),
        ("/api/v1/export/focus?period=2025-11", 200),
        ("/no-such-page", 404),
        ("/health?period=2025-11%00", 400),
    ):
        response = c.get(path)
        assert response.status_code == status, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["referrer-policy"] == "same-origin", path
        assert response.headers["cache-control"] == "no-store", path
        assert "default-src" in response.headers["content-security-policy"], path
    static = c.get("/static/app.js")  # sets its own Cache-Control: kept, not replaced
    assert static.headers["cache-control"] == "private, max-age=3600"
    assert static.headers["x-frame-options"] == "DENY"
