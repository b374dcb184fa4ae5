"""The dashboard and its API against a real server on 127.0.0.1 and a real PostgreSQL.

Expected figures come from tests/e2e/webfleet.py's hand-made fleet, worked out here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import psycopg
import pytest

from tenantcost.web.serve import running_server
from tests.conftest import TEMPLATE, create_database
from tests.e2e.webfleet import ACME, BOLT, CIRRUS, MONTH, PASSWORDS, Fleet, load_small_fleet

pytestmark = pytest.mark.db

# Hand arithmetic for the fleet (rule none; IP constant 4.99):
#   Acme   revenue 100.00, cost 30.00 + 4.99 = 34.99, profit 65.01, score round(65.01) = 65
#   Bolt   revenue 100.00, cost 10.00,                profit 90.00, score 90
#   Cirrus revenue   0.00, cost  4.99,                profit -4.99, score 0 (Critical)
#   charged to nobody: shared VPS 20.00
#   total cost 34.99 + 10.00 + 4.99 + 20.00 = 69.98; revenue 200.00
#   margin (200.00 - 69.98) / 200.00 = 65.01 % -> 65.0 (one decimal)
#   drivers: VPS 30 + 10 = 40.00 (57.2 %), shared VPS unallocated 20.00 (28.6 %),
#            IPs 4.99 + 4.99 = 9.98 (14.3 %)
# (November 2025, covered to its end: everything in full.) JSON money has 6 decimals.


def m(amount: str) -> str:
    return f"{Decimal(amount):.6f}"


READ_ENDPOINTS = [
    "/api/v1/me",
    "/api/v1/overview",
    "/api/v1/health",
    "/api/v1/tables/health",
    "/api/v1/tables/optimization",
    "/api/v1/tables/cost_by_plan",
    "/api/v1/tables/cost_per_email",
    "/api/v1/shared",
    f"/api/v1/tenants/{ACME}",
    "/api/v1/whatif",
    "/api/v1/export/focus",
    "/api/v1/jobs",
    "/metrics",
    "/openapi.json",
]
PAGES = ["/", "/health", "/allocation", f"/tenants/{ACME}", "/whatif", "/docs"]


@pytest.fixture(scope="module")
def fleet(admin_url: str, template_url: str) -> Fleet:
    return load_small_fleet(create_database(admin_url, TEMPLATE))


@pytest.fixture(scope="module")
def base(fleet: Fleet) -> Iterator[str]:
    with running_server(fleet.url) as url:
        yield url


def client(base: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, headers=headers, timeout=30, follow_redirects=False)


@contextmanager
def log_in(base: str, name: str) -> Iterator[httpx.Client]:
    with client(base) as c:
        yield logged_in(c, name)


def logged_in(c: httpx.Client, name: str) -> httpx.Client:
    form = c.get("/login")
    response = c.post(
        "/login",
        data={
            "name": name,
            "password": PASSWORDS[name],
            "login_csrf": form.cookies["tc_login"],
            "next": "/",
        },
    )
    assert response.status_code == 303, response.text
    return c


def test_healthz_is_the_only_anonymous_route(base: str) -> None:
    with client(base) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        for path in [*READ_ENDPOINTS, "/api/v1/settings"]:
            response = c.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Bearer")
        for path in [*PAGES, "/settings", "/static/app.js"]:
            response = c.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")


def test_a_wrong_token_is_401(base: str) -> None:
    with client(base, "tc_not-a-real-token") as c:
        assert c.get("/api/v1/overview").status_code == 401


@pytest.mark.parametrize("user", ["exec", "ana", "dee"])
def test_every_role_reads_every_page_and_endpoint(fleet: Fleet, base: str, user: str) -> None:
    with client(base, fleet.tokens[user]) as c:
        for path in READ_ENDPOINTS:
            assert c.get(path).status_code == 200, path
    with log_in(base, user) as c:
        for path in PAGES:
            assert c.get(path).status_code == 200, path


@pytest.mark.parametrize("user", ["exec", "ana"])
def test_only_dba_reads_or_changes_settings(fleet: Fleet, base: str, user: str) -> None:
    with client(base, fleet.tokens[user]) as c:
        assert c.get("/api/v1/settings").status_code == 403
        change = {"value": "1.00", "reason": "should be refused"}
        assert c.post("/api/v1/settings/smtp_ip_monthly_cost", json=change).status_code == 403
    with log_in(base, user) as c:
        assert c.get("/settings").status_code == 403
        assert c.get("/").status_code == 200
        assert c.get("/api/v1/me").json()["may_change_settings"] is False
    with client(base, fleet.tokens["dee"]) as c:
        assert c.get("/api/v1/settings").status_code == 200


def test_overview_figures(fleet: Fleet, base: str) -> None:
    with client(base, fleet.tokens["exec"]) as c:
        o = c.get("/api/v1/overview").json()
    assert o["period"] == MONTH and o["freshness"]["provisional"] is True
    assert o["totals"] == {
        "revenue": m("200.00"),
        "cost": m("69.98"),
        "tenant_cost": m("49.98"),
        "unallocated_cost": m("20.00"),
        "gross_profit": m("130.02"),
        "gross_margin_pct": m("65.01"),  # (200 - 69.98) / 200 x 100
        "tenants": 3,
    }
    plans = {p["plan_name"]: p for p in o["plans"]}
    assert plans["Basic"] == {
        "plan_name": "Basic",
        "tenants": 2,
        "cost": m("44.99"),
        "usage_cost": m("0"),
        "revenue": m("200.00"),
        "profit": m("155.01"),
        "margin_pct": m("77.505"),  # 155.01 / 200
    }
    assert plans["Free"]["margin_pct"] is None
    assert [(d["driver"], d["amount"], d["share_pct"][:4]) for d in o["cost_drivers"]] == [
        ("VPS", m("40.00"), "57.1"),  # 40 / 69.98 = 57.16 %
        ("Dedicated IPs", m("9.98"), "14.2"),  # 9.98 / 69.98 = 14.26 %
        ("Shared VPS, not allocated", m("20.00"), "28.5"),
    ]
    assert o["trend"]["available"] is False and o["trend"]["compared_with"] == "2025-10"
    assert [(t["company_name"], t["cost"]) for t in o["costliest_tenants"]] == [
        ("Acme", m("34.99")),
        ("Bolt", m("10.00")),
        ("Cirrus", m("4.99")),
    ]
    assert o["quality"]["basis"] == "list_prices"


def test_health_table_sorts_filters_pages_and_downloads(fleet: Fleet, base: str) -> None:
    with client(base, fleet.tokens["ana"]) as c:
        default = c.get("/api/v1/tables/health").json()
        assert [r["company_name"] for r in default["rows"]] == ["Bolt", "Acme", "Cirrus"]
        assert [r["cost_efficiency_score"] for r in default["rows"]] == [90, 65, 0]
        assert default["period"] == MONTH
        acme = default["rows"][1]
        assert acme["total_operational_cost"] == m("34.99")
        assert acme["monthly_profit"] == m("65.01")
        assert acme["gross_margin_ratio"] == "2.860000"  # 100 / 34.99 = 2.8579 -> 2.86
        assert acme["business_health_status"] == "Excellent"

        by_profit = c.get("/api/v1/tables/health?sort=monthly_profit&order=asc").json()
        assert [r["company_name"] for r in by_profit["rows"]] == ["Cirrus", "Acme", "Bolt"]

        free = c.get("/api/v1/tables/health?plan=Free").json()
        assert [r["company_name"] for r in free["rows"]] == ["Cirrus"]
        critical = c.get("/api/v1/tables/health", params={"health": "Critical Action Required"})
        assert [r["company_name"] for r in critical.json()["rows"]] == ["Cirrus"]

        second = c.get("/api/v1/tables/health?per_page=1&page=2").json()
        assert (second["total"], second["pages"]) == (3, 3)
        assert [r["company_name"] for r in second["rows"]] == ["Acme"]
        # every page of one order is a slice of the same kept order (one sort, not one each)
        url = "/api/v1/tables/health?sort=monthly_profit&order=asc&per_page=1&page={}"
        pages = [c.get(url.format(n)).json() for n in (1, 2, 3, 4)]
        assert [[r["company_name"] for r in p["rows"]] for p in pages] == [
            ["Cirrus"],
            ["Acme"],
            ["Bolt"],
            [],
        ]
        assert [p["total"] for p in pages] == [3, 3, 3, 3]

        text = c.get("/api/v1/tables/health?format=csv&sort=company_name&order=asc").text
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["company_name"] for r in rows] == ["Acme", "Bolt", "Cirrus"]
        assert rows[0]["total_operational_cost"] == m("34.99")

        bad = c.get("/api/v1/tables/health?sort=password_hash")
        assert bad.status_code == 400
        assert "cannot sort" in bad.json()["error"]


def test_page_csv_and_page_numbers_match_the_api(fleet: Fleet, base: str) -> None:
    with log_in(base, "exec") as c:
        page = c.get("/health?table=optimization&format=csv")
        assert page.headers["content-disposition"] == 'attachment; filename="optimization.csv"'
        rows = list(csv.DictReader(io.StringIO(page.text)))
        # Not Excellent: only Cirrus; opportunity = 0 x 2 - 4.99.
        assert [(r["company_name"], r["optimization_opportunity"]) for r in rows] == [
            ("Cirrus", m("-4.99"))
        ]
        html = c.get("/").text
        assert 'data-test="total-revenue">$200.00<' in html
        assert 'data-test="total-cost">$69.98<' in html
        assert 'data-test="gross-margin">65.0%<' in html
        assert 'data-test="period-status">provisional<' in html


def test_allocation_tables(fleet: Fleet, base: str) -> None:
    with client(base, fleet.tokens["exec"]) as c:
        by_plan = c.get("/api/v1/tables/cost_by_plan?sort=plan_name&order=asc").json()["rows"]
        per_email = c.get("/api/v1/tables/cost_per_email").json()
    basic = by_plan[0]
    assert basic["plan_name"] == "Basic" and basic["tenant_count"] == 2
    assert basic["avg_infrastructure_cost"] == m("20.00")  # (30 + 10) / 2
    assert basic["avg_email_service_cost"] == m("2.495")  # (4.99 + 0) / 2
    assert basic["avg_total_cost"] == m("22.495")  # (34.99 + 10) / 2
    assert per_email["total"] == 0  # nobody sent email in this fleet


def test_tenant_detail_shows_resources_and_their_cost_source(fleet: Fleet, base: str) -> None:
    with client(base, fleet.tokens["ana"]) as c:
        t = c.get(f"/api/v1/tenants/{ACME}").json()
        missing = c.get("/api/v1/tenants/00000000-0000-4000-8000-0000000000ff")
    assert t["company_name"] == "Acme"
    assert sorted((v["name"], v["status"], v["approximate_cost"]) for v in t["vps"]) == [
        ("acme-1", "active", m("30.00")),
        ("acme-old", "stopped", m("99.00")),
    ]
    assert [(i["ip_address"], i["approximate_cost"], i["cost_source"]) for i in t["ips"]] == [
        ("192.0.2.1", m("4.99"), "setting")
    ]
    assert t["summary"]["total_operational_cost"] == m("34.99")
    assert [(h["period"], h["cost"]) for h in t["history"]] == [(MONTH, m("34.99"))]
    assert sorted((x["driver"], x["amount"]) for x in t["ledger"]) == [
        ("dedicated_ips", m("4.99")),
        ("vps", m("30.00")),
    ]
    assert len(t["monthly"]) == 12
    assert missing.status_code == 404


def test_focus_export_rows_sum_to_the_total_cost(fleet: Fleet, base: str) -> None:
    with client(base, fleet.tokens["exec"]) as c:
        text = c.get("/api/v1/export/focus").text
    rows = list(csv.DictReader(io.StringIO(text)))
    for column in ("BilledCost", "ChargePeriodStart", "ServiceCategory", "x_TenantId"):
        assert column in rows[0]
    got = sorted((r["x_TenantId"], r["ServiceName"], Decimal(r["BilledCost"])) for r in rows)
    assert got == sorted(
        [
            (str(ACME), "Cloud VPS", Decimal("30.00")),
            (str(ACME), "Dedicated IP", Decimal("4.99")),
            (str(BOLT), "Cloud VPS", Decimal("10.00")),
            (str(CIRRUS), "Dedicated IP", Decimal("4.99")),
            ("", "Cloud VPS (shared)", Decimal("20.00")),  # shared, charged to nobody
        ]
    )
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("69.98")
    assert {r["ChargeCategory"] for r in rows} == {"Purchase"}
    assert all(r["ChargePeriodStart"] < r["ChargePeriodEnd"] for r in rows)


def test_overview_shows_what_waits_in_the_outbox(fleet: Fleet, base: str) -> None:
    # Three webhook events waiting; the oldest queued 3 h ago and given up after 20 tries.
    with psycopg.connect(fleet.url) as conn:
        conn.execute(
            "INSERT INTO outbox (sink, dedupe_key, payload, attempts, created_at, "
            "next_attempt_at) VALUES "
            "('webhook', 'page:1', '{}', 20, now() - interval '3 hours 5 minutes', 'infinity'),"
            "('webhook', 'page:2', '{}', 1, now() - interval '1 minute', now()),"
            "('webhook', 'page:3', '{}', 0, now(), now())"
        )
    try:
        with client(base, fleet.tokens["exec"]) as c:
            html = c.get("/").text
    finally:
        with psycopg.connect(fleet.url) as conn:
            conn.execute("DELETE FROM outbox WHERE dedupe_key LIKE 'page:%'")
    assert (
        'data-test="outbox-backlog">Waiting to be delivered (webhook): 3 events, '
        "1 given up after every retry; the oldest has waited 3 h." in html
    )
    with client(base, fleet.tokens["exec"]) as c:  # nothing waiting: no banner
        assert 'data-test="outbox-backlog"' not in c.get("/").text


def test_metrics_exposition(fleet: Fleet, base: str) -> None:
    with psycopg.connect(fleet.url) as conn:  # two events waiting, one of them tried 3 times
        conn.execute(
            "INSERT INTO outbox (sink, dedupe_key, payload, attempts, last_error) VALUES "
            "('webhook', 'metrics:1', '{}', 3, 'HTTP 500'), ('webhook', 'metrics:2', '{}', 0, NULL)"
        )
    with client(base, fleet.tokens["exec"]) as c:
        text = c.get("/metrics").text
    with psycopg.connect(fleet.url) as conn:
        conn.execute("DELETE FROM outbox WHERE dedupe_key LIKE 'metrics:%'")
    assert 'tenantcost_outbox_pending{sink="webhook"} 2\n' in text
    assert 'tenantcost_outbox_failed_total{sink="webhook"} 3\n' in text  # 3 + 0 failed attempts
    assert 'tenantcost_outbox_given_up{sink="webhook"} 0\n' in text
    assert 'tenantcost_plan_tenants{plan="Basic"} 2\n' in text
    assert 'tenantcost_plan_monthly_revenue_usd{plan="Basic"} 200.000000\n' in text
    assert 'tenantcost_plan_monthly_cost_usd{plan="Free"} 4.990000\n' in text
    assert 'tenantcost_plan_gross_margin_percent{plan="Free"} NaN\n' in text
    assert "tenantcost_collector_configured 0\n" in text


def test_docs_page_shows_the_glossary_without_raw_markup(fleet: Fleet, base: str) -> None:
    with log_in(base, "ana") as c:
        html = c.get("/docs").text
    assert 'id="glossary"' in html and "<code>collected_profit</code>" in html
    assert "``" not in html  # docstrings' literals are rendered, not shown raw


def test_whatif_uses_the_model(fleet: Fleet, base: str) -> None:
    with client(base, fleet.tokens["ana"]) as c:
        plain = c.get("/api/v1/whatif").json()
        doubled = c.get("/api/v1/whatif?vcpu_multiplier=2&price_STARTER=10").json()
        bad = c.get("/api/v1/whatif?count_PRO=abc")
    assert plain["inputs"]["counts"] == {"FREE": 700, "STARTER": 200, "PRO": 80, "ENTERPRISE": 20}
    starter = next(line for line in doubled["mix"]["lines"] if line["tier"] == "STARTER")
    assert starter["revenue"] == m("2000.00")  # 200 tenants x $10
    for before, after in zip(plain["tiers"], doubled["tiers"], strict=True):
        # Both are rounded to 6 places, so doubling may differ by 1.5 units of the last place.
        doubled_compute = 2 * Decimal(before["compute"])
        assert abs(Decimal(after["compute"]) - doubled_compute) <= Decimal("0.0000015")
        assert after["memory"] == before["memory"]
    assert bad.status_code == 400


def test_login_cookie_is_httponly_strict_and_wrong_passwords_fail(base: str) -> None:
    with client(base) as c:
        form = c.get("/login")
        wrong = c.post(
            "/login",
            data={"name": "ana", "password": "nope", "login_csrf": form.cookies["tc_login"]},
        )
        assert wrong.status_code == 401
        assert "wrong name or password" in wrong.text
        no_csrf = c.post("/login", data={"name": "ana", "password": PASSWORDS["ana"]})
        assert no_csrf.status_code == 403
        form = c.get("/login")
        ok = c.post(
            "/login",
            data={
                "name": "ana",
                "password": PASSWORDS["ana"],
                "login_csrf": form.cookies["tc_login"],
                "next": "https://evil.example/",
            },
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/"
        cookie = next(h for h in ok.headers.get_list("set-cookie") if h.startswith("tc_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie


@pytest.fixture
def own_fleet(migrated_url: str) -> Iterator[tuple[Fleet, str]]:
    fleet = load_small_fleet(migrated_url)
    with running_server(fleet.url) as url:
        yield fleet, url


def test_dba_changes_the_ip_constant_with_csrf_and_audit(own_fleet: tuple[Fleet, str]) -> None:
    fleet, base = own_fleet
    with log_in(base, "dee") as c:
        page = c.get("/settings").text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        form = {"key": "smtp_ip_monthly_cost", "value": "5.49", "reason": "new contract"}
        assert c.post("/settings", data=form).status_code == 403  # no CSRF token
        assert c.post("/settings", data={**form, "csrf_token": "forged"}).status_code == 403
        empty = c.post("/settings", data={**form, "reason": " ", "csrf_token": token})
        assert empty.status_code == 400 and "reason is required" in empty.text
        api = c.post("/api/v1/settings/smtp_ip_monthly_cost", json={"value": "5.49", "reason": "x"})
        assert api.status_code == 403  # cookie caller without X-CSRF-Token
        done = c.post("/settings", data={**form, "csrf_token": token})
        assert done.status_code == 303
        after = c.get("/settings").text
        assert 'data-test="value-smtp_ip_monthly_cost">5.49<' in after
        assert "new contract [dashboard user dee]" in after
    with client(base, fleet.tokens["dee"]) as c:
        s = c.get("/api/v1/settings").json()
        assert s["audit"][0]["old_value"] == "4.99" and s["audit"][0]["new_value"] == "5.49"
        # Two billable IPs re-priced; the current month is recomputed at once: Acme's
        # 30.00 + 5.49 = 35.49 a month, accrued to the month's coverage.
        current = datetime.now(UTC).strftime("%Y-%m")
        acme = c.get(f"/api/v1/tenants/{ACME}", params={"period": current}).json()
        period = c.get("/api/v1/overview", params={"period": current}).json()["freshness"]
        covered = datetime.fromisoformat(period["covered_until"])
        start = covered.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
        fraction = Decimal((covered - start) // timedelta(microseconds=1)) / Decimal(
            (end - start) // timedelta(microseconds=1)
        )
        expected = (Decimal("35.49") * fraction).quantize(Decimal("0.000001"))
        assert acme["period"] == period["period"] != MONTH
        got = Decimal(acme["summary"]["total_operational_cost"])
        assert abs(got - expected) <= Decimal("0.000002")  # two lines, each rounded
        assert acme["audit"][0]["entity_id"] == fleet.acme_ip
        assert acme["audit"][0]["new_value"] == "5.49"
        back = c.post(
            "/api/v1/settings/smtp_ip_monthly_cost", json={"value": "4.99", "reason": "undo"}
        )
        assert back.json() == {
            "key": "smtp_ip_monthly_cost",
            "old": "5.49",
            "new": "4.99",
            "repriced_ips": 2,
            "rollups_refreshed": True,
        }


def test_logout_ends_the_session(own_fleet: tuple[Fleet, str]) -> None:
    _, base = own_fleet
    with log_in(base, "ana") as c:
        page = c.get("/").text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        cookie = c.cookies["tc_session"]
        assert c.post("/logout", data={"csrf_token": token}).status_code == 303
    with client(base) as fresh:
        fresh.cookies.set("tc_session", cookie)
        assert fresh.get("/api/v1/me").status_code == 401


def test_margin_trend_compares_like_with_like(migrated_url: str) -> None:
    """The month before is judged as the month shown: revenue against the whole cost."""
    from datetime import UTC as _UTC
    from datetime import datetime as _dt

    from tenantcost.attribution.ledger import attribute_period
    from tenantcost.db.connect import connect
    from tenantcost.telemetry.timeutil import month_period
    from tenantcost.web.data import overview

    load_small_fleet(migrated_url)  # November 2025, in full
    with connect(migrated_url) as conn:
        attribute_period(conn, month_period("2025-10"), as_of=_dt(2025, 12, 1, 1, tzinfo=_UTC))
        trend = overview(conn, "2025-11")["trend"]
    # Both months: revenue 200.00 against the whole cost 69.98 (20.00 of it charged to
    # nobody), so the margin did not move.
    assert trend["compared_with"] == "2025-10"
    assert trend["margin_pct_then"] == (Decimal("200.00") - Decimal("69.98")) / 200 * 100
    assert trend["change_points"] == 0
