"""The database password and webhook tokens never reach the terminal (issue 13 item 4):
`settings`, `db status`, `db url`, connection errors and `report send`; only
`db url --show-password` prints the password."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from tenantcost.cli import app
from tenantcost.config import get_settings
from tenantcost.errors import UserError
from tenantcost.web.report_send import post_webhook

runner = CliRunner()
SECRET = "Sup3r-s3cret-pw"
HOOK_TOKEN = "hooktok-77d1"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    return result.output


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://tc:{SECRET}@127.0.0.1:1/pm",
        f"postgresql://tc@127.0.0.1:1/pm?password={SECRET}",
        f"host=127.0.0.1 port=1 dbname=pm user=tc password={SECRET}",
        f"host=127.0.0.1 port=1 dbname=pm user=tc password='{SECRET} x'",
    ],
)
def test_settings_status_url_and_connection_errors_hide_the_password(
    env: pytest.MonkeyPatch, url: str
) -> None:
    env.setenv("TENANTCOST_DATABASE_URL", url)
    env.setenv("TENANTCOST_WEBHOOK_URL", f"https://{HOOK_TOKEN}@hooks.example/in?token=abc9")
    env.setenv("TENANTCOST_WEBHOOK_SECRET", "whsec-123456")
    settings = run("settings", "--format", "json")
    rows = {r["setting"]: r["value"] for r in json.loads(settings)}
    assert SECRET not in settings and "***" in rows["database_url"]
    assert rows["webhook_url"] == "https://***@hooks.example/in?token=***"
    assert "whsec-123456" not in settings
    status = run("db", "status", "--format", "json")
    assert SECRET not in status and "***" in status
    shown = run("db", "url")
    assert SECRET not in shown and "***" in shown
    assert run("db", "url", "--show-password").strip() == url  # asked for: the real URL
    # nothing listens on port 1: the connection error names the server, not the password
    error = runner.invoke(app, ["users", "list"])
    assert error.exit_code == 2, error.output
    assert "cannot reach PostgreSQL" in error.output and SECRET not in error.output
    assert "Traceback" not in error.output


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://tc:{SECRET}@[bad/pm",  # libpq quotes the URL back
        f"postgresql://tc:{SECRET}%ZZ@127.0.0.1:1/pm",  # … or the broken password
        f"host=127.0.0.1 password={SECRET} bogus",  # a key without a value
    ],
)
def test_unparseable_connection_strings_are_one_message_without_the_password(
    env: pytest.MonkeyPatch, url: str
) -> None:
    env.setenv("TENANTCOST_DATABASE_URL", url)
    result = runner.invoke(app, ["users", "list"])
    assert result.exit_code == 2, result.output
    assert "fix TENANTCOST_DATABASE_URL" in " ".join(result.output.split())
    assert SECRET not in result.output and "Traceback" not in result.output


def test_report_send_hides_the_webhook_token() -> None:
    # nothing listens on port 1 of 127.0.0.1: delivery fails, the message names the URL
    with pytest.raises(UserError) as caught:
        post_webhook(f"http://{HOOK_TOKEN}@127.0.0.1:1/in?sig=abc9def", {"period": "daily"})
    message = caught.value.message
    assert message.startswith("cannot deliver the report to http://***@127.0.0.1:1/in?sig=***")
    assert HOOK_TOKEN not in message and "abc9def" not in message
