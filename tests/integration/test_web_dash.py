"""Dashboard pages a person reads (issue 14): tiers on the settings page, labels by kind,
the tenant API's errors, what-if forms that keep what the user typed. Real server, real
PostgreSQL, the hand-made fleet of tests/e2e/webfleet.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest

from tenantcost.web.serve import running_server
from tests.e2e.webfleet import ACME, MONTH, Fleet, load_small_fleet
from tests.integration.test_web import client, log_in

pytestmark = pytest.mark.db

HOUR_1 = datetime(2025, 11, 10, 3, tzinfo=UTC)
HOUR_2 = datetime(2025, 11, 20, 4, tzinfo=UTC)
STARTER_FORM = {  # migration 0009's STARTER: $5, cost ceiling $1, 2 GB, 50 req/h, 200 ms, 70 %
    "monthly_price": "5.00",
    "cost_ceiling": "1.00",
    "storage_gb_ceiling": "2",
    "requests_per_hour_ceiling": "50",
    "latency_target_ms": "200",
    "margin_floor_pct": "70",
}


@pytest.fixture
def own(migrated_url: str) -> Iterator[tuple[Fleet, str]]:
    fleet = load_small_fleet(migrated_url)
    with running_server(fleet.url) as url:
        yield fleet, url


def csrf(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_dba_changes_a_tier_with_csrf_reason_and_audit(own: tuple[Fleet, str]) -> None:
    fleet, base = own
    with log_in(base, "ana") as c:
        assert c.post("/settings/tiers/STARTER", data=STARTER_FORM).status_code == 403
    with log_in(base, "dee") as c:
        page = c.get("/settings").text
        assert 'id="form-tier-STARTER"' in page and "Cost ceiling (USD/month)" in page
        token = csrf(page)
        form = {**STARTER_FORM, "monthly_price": "7.50", "cost_ceiling": "1.25"}
        assert c.post("/settings/tiers/STARTER", data={**form, "reason": "x"}).status_code == 403
        no_reason = c.post("/settings/tiers/STARTER", data={**form, "csrf_token": token})
        assert no_reason.status_code == 400 and 'data-test="error-reason"' in no_reason.text
        bad = c.post(
            "/settings/tiers/STARTER",
            data={**form, "cost_ceiling": "lots", "reason": "new prices", "csrf_token": token},
        )
        # One bad field: its error beside it, every other value as the user typed it.
        assert bad.status_code == 400
        assert "Cost ceiling (USD/month): &#39;lots&#39; is not a number" in bad.text
        assert 'value="7.50"' in bad.text and 'value="lots"' in bad.text
        done = c.post(
            "/settings/tiers/STARTER",
            data={**form, "reason": "new prices", "csrf_token": token},
        )
        assert done.status_code == 303
        after = c.get("/settings").text
        assert "$7.50" in after and "$1.25" in after
        assert "Tier STARTER: Price (USD/month)" in after
        assert "new prices [dashboard user dee]" in after
    with client(base, fleet.tokens["dee"]) as c:
        audit = c.get("/api/v1/settings").json()["audit"]
        rows = sorted((a["setting"], a["old_value"], a["new_value"]) for a in audit[:2])
        assert rows == [
            ("tier STARTER.cost_ceiling", "1.0000", "1.25"),  # the column keeps 4 places
            ("tier STARTER.monthly_price", "5.00", "7.50"),
        ]
        tiers = {t["name"]: t for t in c.get("/api/v1/settings").json()["tiers"]}
        assert tiers["STARTER"]["monthly_price"] == "7.500000"
        assert tiers["PRO"]["monthly_price"] == "25.000000"  # untouched


def test_settings_label_each_number_by_its_kind(own: tuple[Fleet, str]) -> None:
    _, base = own
    with log_in(base, "dee") as c:
        page = c.get("/settings").text
    form = page.split('id="form-annual_prepay_discount_pct"', 1)[1].split("</form>", 1)[0]
    assert "New value (percent, 0–100)" in form and "USD" not in form
    form = page.split('id="form-tier_step_down_hours"', 1)[1].split("</form>", 1)[0]
    assert "New value (hours)" in form
    form = page.split('id="form-free_abuse_threshold"', 1)[1].split("</form>", 1)[0]
    assert "New value (count)" in form
    form = page.split('id="form-smtp_ip_monthly_cost"', 1)[1].split("</form>", 1)[0]
    assert "New value (USD)" in form
    form = page.split('id="form-shared_cost_allocation"', 1)[1].split("</form>", 1)[0]
    assert "New value (choice)" in form
    assert "<h2>smtp_ip_monthly_cost</h2>" not in page


def test_malformed_tenant_id_is_a_clear_4xx(own: tuple[Fleet, str]) -> None:
    fleet, base = own
    with client(base, fleet.tokens["ana"]) as c:
        api = c.get("/api/v1/tenants/not-a-uuid")
    assert api.status_code == 400
    assert api.json() == {
        "error": "'not-a-uuid' is not a tenant id",
        "hint": "tenant ids are UUIDs",
    }
    with log_in(base, "ana") as c:
        html = c.get("/tenants/not-a-uuid")
    assert html.status_code == 404 and "No such tenant" in html.text


def test_tenant_page_shows_usage_signals_alerts_and_named_audit_rows(
    own: tuple[Fleet, str],
) -> None:
    fleet, base = own
    with psycopg.connect(fleet.url) as conn:
        conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (HOUR_1,))
        # Two hours of November 2025 for Acme. CPU has two sources: pg_stat_statements
        # (priority 2) beats app (3), so CPU = 2.5 + 1.5 = 4.00 s; queries 100 + 50 = 150;
        # storage is the month's last sampled hour: 3,000,000,000 B = 3.000 GB (not 2 + 3);
        # egress 500,000,000 + 250,000,000 B = 0.750 GB.
        rows = [
            (HOUR_1, "query_count", "pg_stat_statements", 100),
            (HOUR_2, "query_count", "pg_stat_statements", 50),
            (HOUR_1, "compute_seconds", "pg_stat_statements", Decimal("2.5")),
            (HOUR_1, "compute_seconds", "app", Decimal("9")),
            (HOUR_2, "compute_seconds", "pg_stat_statements", Decimal("1.5")),
            (HOUR_1, "storage_bytes", "database_size", 2_000_000_000),
            (HOUR_2, "storage_bytes", "database_size", 3_000_000_000),
            (HOUR_1, "egress_bytes", "app", 500_000_000),
            (HOUR_2, "egress_bytes", "app", 250_000_000),
        ]
        for hour, metric, source, quantity in rows:
            conn.execute(
                "INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity) "
                "VALUES (%s, %s, %s, %s, %s)",
                (hour, ACME, metric, source, quantity),
            )
        conn.execute(
            "INSERT INTO tier_decisions (tenant_id, tier, hour, from_level, to_level, ceiling, "
            "figure, ceiling_value, ratio) VALUES (%s, 'STARTER', %s, 'normal', 'soft_throttle',"
            " 'cost_ceiling', 1.6, 1.0, 1.6)",
            (ACME, HOUR_2),
        )
        conn.execute(
            "INSERT INTO tier_alerts (kind, subject, opened_at, last_seen_at, message) "
            "VALUES ('cost_jump', %s, %s, %s, 'hourly cost 0.50 against a median of 0.01')",
            (str(ACME), HOUR_2, HOUR_2),
        )
        vps = conn.execute("SELECT id FROM vps_instances WHERE name = 'acme-1'").fetchone()
        assert vps
        conn.execute(
            "INSERT INTO cost_audit (entity, entity_id, old_value, new_value, source, reason) "
            "VALUES ('vps', %s, '30.00', '31.00', 'hostwinds', 'sync')",
            (str(vps[0]),),
        )
    with log_in(base, "ana") as c:
        html = c.get(f"/tenants/{ACME}?period={MONTH}").text
    usage = html.split('id="table-usage"', 1)[1].split("</table>", 1)[0]
    assert f"<td>{MONTH}" in usage
    cells = usage.split(f"<td>{MONTH}", 1)[1]
    assert '<td class="num">150</td><td class="num">4.00</td>' in cells
    assert '<td class="num">3.000</td><td class="num">0.750</td>' in cells
    decisions = html.split('id="table-tenant-decisions"', 1)[1].split("</table>", 1)[0]
    assert "<td>Soft throttle</td><td>Cost ceiling</td>" in decisions
    assert '<td class="num">160.0%</td>' in decisions  # ratio 1.6 = 1.6 / 1.0
    alerts = html.split('id="table-tenant-alerts"', 1)[1].split("</table>", 1)[0]
    assert "Sudden cost jump" in alerts and "median of 0.01" in alerts
    assert 'data-test="audit-resource">VPS acme-1</td>' in html
    assert f"vps {str(vps[0])[:8]}" not in html


def test_whatif_keeps_what_the_user_typed_and_names_the_scenario(own: tuple[Fleet, str]) -> None:
    _, base = own
    with log_in(base, "ana") as c:
        page = c.get("/whatif?scenario=railway-2025-11&price_PRO=30&count_PRO=abc&price_STARTER=")
    assert page.status_code == 400
    html = page.text
    assert "Scenario <strong>railway-2025-11</strong>" in html and "(seed 002)" not in html
    assert 'name="price_PRO" value="30"' in html  # kept, though another field is bad
    assert 'name="count_PRO" value="abc"' in html
    assert 'data-test="error-count_PRO"' in html
    # Blank stays blank; the scenario's value is the placeholder, and the page says so.
    assert 'name="price_STARTER" value="" placeholder="5"' in html
    assert "price of STARTER" in html.split("Using the scenario", 1)[1].split("</p>", 1)[0]
    # Every part of the cost card: seed-002-on-Railway mix with add-ons.
    parts = html.split('data-test="whatif-cost-parts">', 1)[1].split("</div>", 1)[0]
    assert "usage $" in parts and "+ control plane $30.00 + add-ons $" in parts
    amounts = [Decimal(x.split()[0].replace(",", "")) for x in parts.split("$")[1:]]
    total = html.split('data-test="whatif-cost">$', 1)[1].split("<", 1)[0].replace(",", "")
    assert len(amounts) == 3 and abs(sum(amounts) - Decimal(total)) <= Decimal("0.02")


def test_own_plan_repriced_over_its_measured_months(own: tuple[Fleet, str]) -> None:
    _, base = own
    with log_in(base, "exec") as c:
        basic = c.get("/whatif?own_plan=Basic&own_price=120").text
        free = c.get("/whatif?own_plan=Free&own_tier=STARTER").text
        bad = c.get("/whatif?own_plan=Basic&own_price=lots")
    # Basic ($100): Acme and Bolt, November 2025 covered in full. At $120: revenue
    # 2 x 100 x 120/100 = 240.00; cost unchanged 34.99 + 10.00 = 44.99;
    # profit 200.00 - 44.99 = 155.01 -> 240.00 - 44.99 = 195.01;
    # margin 155.01 / 200 = 77.505 % -> 77.5 %; 195.01 / 240 = 81.254 % -> 81.3 %.
    row = basic.split('id="table-own"', 1)[1].split("</table>", 1)[0]
    assert (
        f'<td>{MONTH} (provisional)</td><td class="num">2</td>'
        '<td class="num">$200.00</td><td class="num">$240.00</td><td class="num">$44.99</td>'
        '<td class="num ">$155.01</td><td class="num ">$195.01</td>'
        '<td class="num">77.5%</td><td class="num">81.3%</td>'
    ) in row
    # Free ($0) to STARTER ($5): no list price to scale, so 5.00 x no discount x whole month
    # = 5.00 against Cirrus's cost 4.99: profit -4.99 -> 0.01, margin n/a -> 0.2 %.
    row = free.split('id="table-own"', 1)[1].split("</table>", 1)[0]
    assert '<td class="num">$0.00</td><td class="num">$5.00</td><td class="num">$4.99</td>' in row
    assert '<td class="num">n/a</td><td class="num">0.2%</td>' in row
    assert bad.status_code == 400 and 'data-test="error-own_price"' in bad.text


def test_every_page_has_one_title_and_no_snake_case_in_its_notes(own: tuple[Fleet, str]) -> None:
    _, base = own
    with client(base) as anonymous:
        login = anonymous.get("/login").text
    assert "<title>Log in · tenantcost</title>" in login
    with log_in(base, "dee") as c:
        pages = ["/", "/health", "/allocation", f"/tenants/{ACME}", "/settings", "/docs"]
        for path in [*pages, "/whatif?own_plan=Basic&own_price=120"]:
            html = c.get(path).text
            title = html.split("<title>", 1)[1].split("</title>", 1)[0]
            assert title.count("tenantcost") == 1 and title != "tenantcost", (path, title)
            note = html.split('data-test="period-note"', 1)[-1].split("</p>", 1)[0]
            assert "list_prices" not in note, path
            if path != "/docs":  # the API reference names fields on purpose
                assert snake_case_words(html) == set(), path


def snake_case_words(html: str) -> set[str]:
    """Words with an underscore that a person reads: text outside tags, <code>, <script>
    and <style>, and outside form values."""
    import re

    text = re.sub(r"<(script|style|code)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    return set(re.findall(r"\b[a-z]+(?:_[a-z0-9]+)+\b", text))


def test_a_tenant_without_cost_says_so_instead_of_an_empty_chart(own: tuple[Fleet, str]) -> None:
    fleet, base = own
    with psycopg.connect(fleet.url) as conn:
        row = conn.execute(
            "INSERT INTO companies (name) VALUES ('Dormant') RETURNING id"
        ).fetchone()
        assert row
    with log_in(base, "ana") as c:
        dormant = c.get(f"/tenants/{row[0]}").text
        acme = c.get(f"/tenants/{ACME}").text
    assert 'data-test="no-cost"' in dormant and 'id="chart-cost"' not in dormant
    assert 'id="chart-cost"' in acme and 'data-test="no-cost"' not in acme
