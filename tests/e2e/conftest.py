"""Browser tests: Playwright (python) driving Debian's chromium, headless, no network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("TENANTCOST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):  # CI must run them: `make test` installs chromium first
            pytest.fail(f"{CHROMIUM} not found in CI: the Makefile's chromium step failed")
        pytest.skip(
            f"{CHROMIUM} not found: browser tests need Debian's chromium "
            "(`make test` installs it with apt-get when it is missing and installable)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        yield browser
        browser.close()
