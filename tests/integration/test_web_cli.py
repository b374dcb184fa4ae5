"""`tenantcost users …` and `tenantcost report send` against a real database (and a real
webhook receiver on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import typer
from typer.testing import CliRunner

from tenantcost.cli import TenantcostGroup
from tenantcost.db.connect import connect
from tenantcost.web.report_send import send_command
from tenantcost.web.security import sha256_hex, verify_password
from tenantcost.web.users import app as users_app
from tests.e2e.webfleet import load_small_fleet

pytestmark = pytest.mark.db
runner = CliRunner()

# The same wiring the lead adds to src/tenantcost/cli.py.
cli = typer.Typer(cls=TenantcostGroup)
cli.add_typer(users_app, name="users")
report = typer.Typer()
report.command("send")(send_command)
report.command("noop", hidden=True)(lambda: None)  # keeps "send" a sub-command
cli.add_typer(report, name="report")


def user_row(url: str, name: str) -> dict[str, Any] | None:
    with connect(url) as conn:
        return conn.execute(
            "SELECT name, role, password_hash, token_hash FROM dashboard_users WHERE name = %s",
            (name,),
        ).fetchone()


def test_add_with_password_from_stdin_stores_only_a_hash(use_database: str) -> None:
    result = runner.invoke(
        cli,
        ["users", "add", "maria", "--role", "analyst", "--password-stdin"],
        input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    row = user_row(use_database, "maria")
    assert row is not None and row["role"] == "analyst"
    assert "correct horse" not in row["password_hash"]
    assert verify_password("correct horse battery", row["password_hash"])
    assert not verify_password("wrong horse battery", row["password_hash"])
    again = runner.invoke(
        cli, ["users", "add", "maria", "--role", "dba", "--password-stdin"], input="x" * 12 + "\n"
    )
    assert again.exit_code == 2 and "already exists" in again.output


def test_token_user_short_password_and_bad_role(use_database: str) -> None:
    result = runner.invoke(cli, ["users", "add", "bot", "--role", "executive", "--token"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    row = user_row(use_database, "bot")
    assert row is not None and row["token_hash"] == sha256_hex(token)
    assert row["password_hash"] is None
    short = runner.invoke(
        cli, ["users", "add", "eve", "--role", "dba", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 2 and "fewer than 10 characters besides spaces" in short.output
    bad = runner.invoke(cli, ["users", "add", "eve", "--role", "root", "--token"])
    assert bad.exit_code != 0
    assert user_row(use_database, "eve") is None


def test_list_token_rotation_role_and_remove(use_database: str) -> None:
    runner.invoke(cli, ["users", "add", "bot", "--role", "executive", "--token"])
    old = user_row(use_database, "bot")
    rotated = runner.invoke(cli, ["users", "token", "bot"])
    assert rotated.exit_code == 0
    new = user_row(use_database, "bot")
    assert old and new and old["token_hash"] != new["token_hash"]
    assert new["token_hash"] == sha256_hex(rotated.stdout.strip().splitlines()[-1])
    assert runner.invoke(cli, ["users", "set-role", "bot", "dba"]).exit_code == 0
    listed = runner.invoke(cli, ["users", "list", "--format", "json"])
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"], r["has_token"], r["has_password"]) for r in rows] == [
        ("bot", "dba", True, False)
    ]
    assert runner.invoke(cli, ["users", "remove", "bot"]).exit_code == 0
    assert user_row(use_database, "bot") is None
    missing = runner.invoke(cli, ["users", "remove", "bot"])
    assert missing.exit_code == 2 and "no user named" in missing.output


def test_report_send_to_a_file(use_database: str, tmp_path: Path) -> None:
    load_small_fleet(use_database)
    out = tmp_path / "weekly.html"
    result = runner.invoke(cli, ["report", "send", "--period", "weekly", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Executive report — weekly" in html
    assert "$200.00" in html and "$69.98" in html and "65.0%" in html  # see test_web.py
    assert "Cirrus" in html  # the one Critical tenant
    neither = runner.invoke(cli, ["report", "send"])
    assert neither.exit_code == 2 and "exactly one of" in neither.output


class _Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Receiver.bodies.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.bodies = []
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_report_send_to_a_webhook(use_database: str, receiver: str) -> None:
    load_small_fleet(use_database)
    result = runner.invoke(cli, ["report", "send", "--period", "daily", "--webhook", receiver])
    assert result.exit_code == 0, result.output
    payload = json.loads(_Receiver.bodies[0])
    assert payload["period"] == "daily"
    assert payload["summary"]["revenue"] == "200.000000"
    assert payload["summary"]["cost"] == "69.980000"
    assert payload["summary"]["health"]["Critical Action Required"] == 1
    assert payload["html"].startswith("<!doctype html>")
    down = runner.invoke(
        cli, ["report", "send", "--webhook", "http://127.0.0.1:9/nothing-listens-here"]
    )
    assert down.exit_code == 2 and "cannot deliver" in down.output


def test_tokens_expire_after_the_default_or_expires_in(use_database: str) -> None:
    added = runner.invoke(cli, ["users", "add", "bot", "--role", "analyst", "--token"])
    assert added.exit_code == 0, added.output
    rows = json.loads(runner.invoke(cli, ["users", "list", "--format", "json"]).stdout)
    assert rows[0]["token_last_used_at"] is None
    with connect(use_database) as conn:
        left = conn.execute(
            "SELECT extract(epoch FROM token_expires_at - now()) AS s FROM dashboard_users"
        ).fetchone()
    # default TENANTCOST_TOKEN_EXPIRY_DAYS = 90: 90 × 86,400 = 7,776,000 s from creation
    assert left is not None and 7_776_000 - 60 <= left["s"] <= 7_776_000
    rotated = runner.invoke(cli, ["users", "token", "bot", "--expires-in", "12h"])
    assert rotated.exit_code == 0 and "valid 0.5 days" in rotated.output
    with connect(use_database) as conn:
        left = conn.execute(
            "SELECT extract(epoch FROM token_expires_at - now()) AS s FROM dashboard_users"
        ).fetchone()
    assert left is not None and 12 * 3600 - 60 <= left["s"] <= 12 * 3600  # 43,200 s
    bad = runner.invoke(cli, ["users", "token", "bot", "--expires-in", "forever"])
    assert bad.exit_code == 2 and "--expires-in 'forever'" in bad.output
    revoked = runner.invoke(cli, ["users", "token", "bot", "--revoke"])
    assert revoked.exit_code == 0
    rows = json.loads(runner.invoke(cli, ["users", "list", "--format", "json"]).stdout)
    assert rows[0]["has_token"] is False and rows[0]["token_expires_at"] is None


def test_passwords_of_spaces_are_refused(use_database: str) -> None:
    for password in (" " * 10, "abc" + " " * 20 + "defghi"):  # 0 and 9 non-space characters
        result = runner.invoke(
            cli, ["users", "add", "eve", "--role", "dba", "--password-stdin"], input=password + "\n"
        )
        assert result.exit_code == 2 and "besides spaces" in result.output
    assert user_row(use_database, "eve") is None
