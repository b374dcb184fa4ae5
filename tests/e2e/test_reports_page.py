"""The Reports page and API: roles (401/403), CSRF, "send now" as dba in a real browser, and
the sent report's HTML read back in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenantcost.config import load_settings
from tenantcost.web.serve import running_server
from tests.conftest import TEMPLATE, create_database
from tests.e2e.test_dashboard import log_in
from tests.e2e.webfleet import Fleet, load_small_fleet

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def served(admin_url: str, template_url: str, outdir: Path) -> Iterator[tuple[Fleet, str]]:
    fleet = load_small_fleet(create_database(admin_url, TEMPLATE))
    settings = load_settings(database_url=fleet.url, report_dir=outdir)
    with running_server(fleet.url, settings=settings) as base:
        yield fleet, base


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def bearer(fleet: Fleet, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {fleet.tokens[name]}"}


def test_reports_api_roles_and_send_now(served: tuple[Fleet, str], outdir: Path) -> None:
    fleet, base = served
    with httpx.Client(base_url=base, timeout=60) as client:
        assert client.get("/api/v1/reports").status_code == 401
        send = "/api/v1/reports/send?kind=daily&period=2025-11-30"
        assert client.post(send).status_code == 401
        assert client.post(send, headers=bearer(fleet, "ana")).status_code == 403
        assert client.post(send, headers=bearer(fleet, "exec")).status_code == 403
        bad = client.post("/api/v1/reports/send?kind=hourly", headers=bearer(fleet, "dee"))
        assert bad.status_code == 400 and "not a report kind" in bad.text
        done = client.post(send, headers=bearer(fleet, "dee"))
        assert done.status_code == 200, done.text
        result = done.json()
        assert (result["kind"], result["period"]) == ("daily", "2025-11-30")
        assert [(d["channel"], d["status"]) for d in result["deliveries"]] == [
            ("directory", "delivered")
        ]
        listing = client.get("/api/v1/reports", headers=bearer(fleet, "exec")).json()
    run = next(r for r in listing["runs"] if r["period"] == "2025-11-30")
    assert (run["kind"], run["trigger"], run["figures"]) == ("daily", "manual", "provisional")
    assert [(d["channel"], d["status"], d["requested_by"]) for d in run["deliveries"]] == [
        ("directory", "delivered", "dee")
    ]
    assert (outdir / "daily-2025-11-30.html").exists()
    assert (outdir / "daily-2025-11-30.pdf").read_bytes()[:5] == b"%PDF-"


def test_analyst_sees_reports_but_no_send_form_and_a_form_without_csrf_is_refused(
    page: Any, served: tuple[Fleet, str]
) -> None:
    _, base = served
    log_in(page, base, "ana")
    page.click("nav a[href='/reports']")
    page.wait_for_selector("#table-schedule")
    assert page.locator("#form-send-report").count() == 0
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    refused = httpx.post(f"{base}/reports/send", data={"kind": "daily"}, cookies=cookies)
    assert refused.status_code == 403  # analyst
    page.context.clear_cookies()
    log_in(page, base, "dee")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    no_token = httpx.post(f"{base}/reports/send", data={"kind": "daily"}, cookies=cookies)
    assert no_token.status_code == 403 and "security token" in no_token.text


def test_dba_sends_now_in_the_browser_and_the_report_reads_right_in_chromium(
    page: Any, served: tuple[Fleet, str], outdir: Path, tmp_path: Path
) -> None:
    _, base = served
    log_in(page, base, "dee")
    page.goto(f"{base}/reports")
    form = page.locator("#form-send-report")
    form.locator("select[name=kind]").select_option("weekly")
    form.locator("input[name=period]").fill("2025-W48")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-test=sent]")
    assert page.text_content("[data-test=sent]") == "Sent the weekly 2025-W48 report."
    row = page.locator("[data-test=report-weekly-2025-W48]")
    assert "directory →" in row.inner_text() and "delivered" in row.inner_text()
    # A bad period is named on the page, nothing is sent.
    form = page.locator("#form-send-report")
    form.locator("input[name=period]").fill("2025-13")
    form.locator("select[name=kind]").select_option("monthly")
    form.locator("button[type=submit]").click()
    assert "is not a monthly period" in page.text_content("[data-test=send-error]")

    report = outdir / "weekly-2025-W48.html"
    page.goto(report.as_uri())
    assert page.text_content("h1").startswith("Executive report — weekly 2025-W48")
    # webfleet: revenue 2 × $100.00; cost 30.00 + 4.99 + 10.00 + 4.99 + 20.00 = $69.98;
    # margin (200.00 − 69.98) ÷ 200.00 = 65.01 % → 65.0 %
    assert page.text_content("[data-test=revenue]") == "$200.00"
    assert page.text_content("[data-test=cost]") == "$69.98"
    assert page.text_content("[data-test=margin]") == "65.0%"
    assert page.is_visible("[data-test=provisional]")
    chart = page.locator("[data-test=drivers-chart]")
    assert chart.evaluate("img => img.complete && img.naturalWidth > 300")
    plans = page.locator("[data-test=plans] tr").all_inner_texts()
    assert any(p.startswith("Basic\t2\t$44.99\t$200.00") for p in plans)  # 34.99 + 10.00
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
