"""The dashboard in a real browser: log in, read the overview, sort, download CSV, change the
IP constant as dba, be refused settings as analyst; screenshots of every page."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenantcost.db.connect import connect
from tenantcost.demo.fleet import load_demo
from tenantcost.demo.history import load_history
from tenantcost.pricing.book import find_price_book
from tenantcost.pricing.store import import_book
from tenantcost.report import refresh_rollups
from tenantcost.web.serve import running_server
from tenantcost.web.users import add_user
from tests.conftest import TEMPLATE, create_database
from tests.e2e.webfleet import ACME, PASSWORDS, Fleet, load_small_fleet

pytestmark = [pytest.mark.db, pytest.mark.slow]


def cents(text: str) -> str:
    """An API amount as people see it: cents, thousands separated."""
    return f"{Decimal(text).quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


@pytest.fixture(scope="module")
def fleet(admin_url: str, template_url: str) -> Fleet:
    return load_small_fleet(create_database(admin_url, TEMPLATE))


@pytest.fixture(scope="module")
def base(fleet: Fleet) -> Iterator[str]:
    with running_server(fleet.url) as url:
        yield url


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def log_in(page: Any, base: str, name: str, password: str | None = None) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password or PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_login_shows_the_same_overview_numbers_as_the_api(
    page: Any, base: str, fleet: Fleet
) -> None:
    page.goto(f"{base}/health")
    assert page.url.startswith(f"{base}/login")  # not logged in: sent to the login form
    log_in(page, base, "exec")
    api = httpx.get(
        f"{base}/api/v1/overview", headers={"Authorization": f"Bearer {fleet.tokens['exec']}"}
    ).json()
    totals = api["totals"]
    assert page.text_content("[data-test=total-revenue]") == f"${cents(totals['revenue'])}"
    assert page.text_content("[data-test=total-cost]") == f"${cents(totals['cost'])}"
    margin = Decimal(totals["gross_margin_pct"]).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert page.text_content("[data-test=gross-margin]") == f"{margin}%"
    assert page.text_content("[data-test=total-revenue]") == "$200.00"  # webfleet's arithmetic
    assert page.text_content("[data-test=period-status]") == "provisional"
    # Chart.js (shipped in the package) drew the charts: no network needed.
    assert page.evaluate("typeof Chart") == "function"
    assert page.evaluate("!!document.getElementById('chart-drivers').chart")


def test_sort_a_table_and_download_its_csv(page: Any, base: str) -> None:
    log_in(page, base, "ana")
    page.goto(f"{base}/health")
    names = "#table-health tbody tr td:first-child"
    assert page.locator(names).all_text_contents() == ["Bolt", "Acme", "Cirrus"]
    page.click("#table-health th a[data-sort=monthly_profit]")  # first click: descending
    page.wait_for_url("**sort=monthly_profit**")
    assert page.locator(names).all_text_contents() == ["Bolt", "Acme", "Cirrus"]
    page.click("#table-health th a[data-sort=monthly_profit]")  # second click: ascending
    page.wait_for_url("**order=asc**")
    assert page.locator(names).all_text_contents() == ["Cirrus", "Acme", "Bolt"]
    with page.expect_download() as info:
        page.click("[data-test=csv-health]")
    download = info.value
    assert download.suggested_filename == "health.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [r["company_name"] for r in rows] == ["Cirrus", "Acme", "Bolt"]  # the page's order
    assert rows[1]["monthly_profit"] == "65.010000"  # machines: 6 decimals


def test_analyst_is_refused_the_settings_page(page: Any, base: str) -> None:
    log_in(page, base, "ana")
    assert page.locator("nav a[href='/settings']").count() == 0
    response = page.goto(f"{base}/settings")
    assert response.status == 403
    assert "may not" in (page.text_content("[role=alert]") or "")


@pytest.fixture
def as_dba(page: Any, admin_url: str, template_url: str) -> Iterator[tuple[Fleet, str]]:
    """A fleet of its own (the test changes it), served, with the page logged in as dba."""
    fleet = load_small_fleet(create_database(admin_url, TEMPLATE))
    with running_server(fleet.url) as base:
        log_in(page, base, "dee")
        yield fleet, base


def test_dba_changes_the_ip_constant_and_sees_the_audit_row(
    page: Any, as_dba: tuple[Fleet, str]
) -> None:
    fleet, base = as_dba
    page.click("nav a[href='/settings']")
    form = page.locator("#form-smtp_ip_monthly_cost")
    form.locator("input[name=value]").fill("5.49")
    form.locator("input[name=reason]").fill("Hostwinds raised the IP price")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-test=saved]")
    assert page.text_content("[data-test=value-smtp_ip_monthly_cost]") == "5.49"
    first = page.locator("#table-setting-audit tbody tr").first.locator("td")
    cells = first.all_text_contents()
    assert cells[2:5] == ["Dedicated SMTP IP, monthly cost", "4.99", "5.49"]
    assert cells[6] == "Hostwinds raised the IP price [dashboard user dee]"
    current = datetime.now(UTC).strftime("%Y-%m")
    page.goto(f"{base}/tenants/{ACME}?period={current}")
    # The current month was recomputed at once: 30.00 VPS + the re-priced IP 5.49 a month,
    # accrued to the month's coverage; the page shows what the API says, in cents.
    api = httpx.get(
        f"{base}/api/v1/tenants/{ACME}?period={current}",
        headers={"Authorization": f"Bearer {fleet.tokens['dee']}"},
    ).json()
    cost = api["summary"]["total_operational_cost"]
    assert page.text_content("[data-test=tenant-cost]") == f"${cents(cost)}"
    assert "5.49" in page.locator("#table-audit tbody tr").first.text_content()


@pytest.fixture(scope="module")
def demo_base(admin_url: str, template_url: str) -> Iterator[str]:
    url = create_database(admin_url, TEMPLATE)
    with connect(url) as conn:
        import_book(conn, find_price_book("railway-2025-11"))
        load_demo(conn, tenants=150, seed=7, replace=True)
        load_history(conn, days=40, seed=7)  # usage priced like real telemetry, as make run
        refresh_rollups(conn)
        add_user(conn, "demo", "dba", password="demo-password-1", token=False)
    with running_server(url) as base:
        yield base


def test_screenshots_of_every_page(browser: Any, demo_base: str, tmp_path: Path) -> None:
    """Set TENANTCOST_SCREENSHOTS=docs/screenshots to refresh the README's pictures
    (NAME.png at 1440×900, NAME-phone.png at 390×844)."""
    folder = Path(os.environ.get("TENANTCOST_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, width, height in (("", 1440, 900), ("-phone", 390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        try:
            page = context.new_page()
            log_in(page, demo_base, "demo", "demo-password-1")
            page.goto(f"{demo_base}/health")
            first_tenant = page.locator("#table-health tbody tr td a").first.get_attribute("href")
            page.goto(f"{demo_base}/whatif")
            plan = page.locator("[data-test=own-plan] option").nth(1).get_attribute("value")
            pages = {
                "overview": "/",
                "health": "/health",
                "allocation": "/allocation",
                "tenant": first_tenant,
                "settings": "/settings",
                "whatif": f"/whatif?vcpu_multiplier=1.5&own_plan={plan}&own_price=12",
                "api": "/docs",
                "reports": "/reports",
            }
            for name, path in pages.items():
                response = page.goto(f"{demo_base}{path}")
                assert response.status == 200, path
                page.wait_for_load_state("networkidle")
                shot = folder / f"{name}{suffix}.png"
                page.screenshot(path=str(shot))
                assert shot.stat().st_size > 10_000
        finally:
            context.close()


# Every cell, card figure and header that holds text must show all of it; the page itself
# never scrolls sideways (tables scroll inside their .scroll box, key column pinned).
LAYOUT_PROBE = """() => {
  const clipped = [];
  for (const el of document.querySelectorAll('td, th, .card .value, .card .label, h1, h2')) {
    if (el.scrollWidth > el.clientWidth + 1) {
      clipped.push(el.tagName + ' ' + el.textContent.trim().slice(0, 40));
    }
  }
  const unpinned = [];
  for (const box of document.querySelectorAll('.scroll')) {
    if (box.scrollWidth > box.clientWidth + 1) {
      const key = box.querySelector('tbody td:first-child');
      if (key && getComputedStyle(key).position !== 'sticky') { unpinned.push(box.innerHTML.slice(0, 60)); }
    }
  }
  return {page: document.documentElement.scrollWidth, width: window.innerWidth, clipped, unpinned};
}"""


@pytest.mark.parametrize("width,height", [(1440, 900), (390, 844)])
def test_no_figure_is_clipped_and_no_page_scrolls_sideways(
    browser: Any, demo_base: str, width: int, height: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        script_errors: list[Any] = []
        page.on(
            "pageerror", lambda e: script_errors.append(e)
        )  # app.js's chart formatting must not throw
        page.goto(f"{demo_base}/login")
        assert page.evaluate(LAYOUT_PROBE)["page"] <= width
        log_in(page, demo_base, "demo", "demo-password-1")
        page.goto(f"{demo_base}/health")
        tenant = page.locator("#table-health tbody tr td a").first.get_attribute("href")
        page.goto(f"{demo_base}/whatif")
        plan = page.locator("[data-test=own-plan] option").nth(1).get_attribute("value")
        replay = f"/whatif?own_plan={plan}&own_price=12.5&count_PRO=abc"  # a table and an error
        paths = ("/", "/health", "/allocation", tenant, "/settings", replay, "/docs", "/reports")
        for path in paths:
            response = page.goto(f"{demo_base}{path}")
            assert response.status == (400 if path == replay else 200), path
            found = page.evaluate(LAYOUT_PROBE)
            assert found["page"] <= found["width"] == width, (path, found)
            assert found["clipped"] == [], (path, found["clipped"])
            assert found["unpinned"] == [], (path, found["unpinned"])
            if path == replay:  # the replay drew its months
                assert page.locator("#table-own tbody td.num").count() >= 8
            numbers = page.locator("td.num").count()
            # the probe had figures to judge (the API docs and the reports list have none)
            assert numbers > 0 or path in ("/docs", "/reports"), path
            assert script_errors == [], (path, script_errors)
    finally:
        context.close()


def test_dba_changes_a_tier_price_in_the_browser(page: Any, as_dba: tuple[Fleet, str]) -> None:
    _, base = as_dba
    page.goto(f"{base}/settings#tiers")
    page.click("#tier-PRO summary")
    form = page.locator("#form-tier-PRO")
    form.locator("input[name=monthly_price]").fill("29")
    form.locator("input[name=cost_ceiling]").fill("too much")
    form.locator("input[name=reason]").fill("PRO repriced")
    form.locator("button[type=submit]").click()
    # The bad field is named beside it; what was typed elsewhere is still there.
    assert "is not a number" in form.locator("[data-test=error-cost_ceiling]").inner_text()
    assert form.locator("input[name=monthly_price]").input_value() == "29"
    assert form.locator("input[name=reason]").input_value() == "PRO repriced"
    form.locator("input[name=cost_ceiling]").fill("6")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-test=saved]")
    pro = page.locator("#table-tiers tbody tr", has_text="PRO").locator("td")
    assert pro.nth(1).inner_text() == "$29.00" and pro.nth(2).inner_text() == "$6.00"
    audit = page.locator("#table-setting-audit tbody tr").all_inner_texts()
    assert any("Tier PRO: Price (USD/month)" in row and "PRO repriced" in row for row in audit)
