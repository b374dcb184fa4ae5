"""The Host allow-list and the cookie/proxy settings (pure: no server)."""

from __future__ import annotations

import pytest

from tenantcost.config import load_settings
from tenantcost.errors import UserError
from tenantcost.web.app import allowed_hosts


def test_the_default_allow_list_is_loopback() -> None:
    assert allowed_hosts(load_settings()) == ["127.0.0.1", "localhost", "[::1]"]


def test_serve_host_is_added_but_not_wildcard_addresses() -> None:
    settings = load_settings(allowed_hosts="Dash.Example.com, *.corp.example")
    assert allowed_hosts(settings, ["10.0.0.5", "::1", "0.0.0.0", "::"]) == [
        "dash.example.com",
        "*.corp.example",
        "10.0.0.5",
        "[::1]",
    ]


@pytest.mark.parametrize("value", ["a*b.example", "*example.com", "ok.example,", "x/y", "**"])
def test_bad_host_patterns_are_one_clear_message(value: str) -> None:
    with pytest.raises(UserError, match="allowed_hosts"):
        load_settings(allowed_hosts=value)


@pytest.mark.parametrize(
    ("field", "value"), [("cookie_secure", "sometimes"), ("web_db_timeout", 0)]
)
def test_bad_web_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(UserError, match=field):
        load_settings(**{field: value})
