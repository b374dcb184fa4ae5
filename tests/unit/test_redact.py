"""Secrets never reach the screen: ``db.connect.redact`` on every form a URL or DSN takes."""

from __future__ import annotations

import pytest

from tenantcost.db.connect import redact, secrets_of


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # URL with user and password: the user stays, the password goes
        (
            "postgresql://app:s3cretpw@db.internal:5432/pm",
            "postgresql://app:***@db.internal:5432/pm",
        ),
        ("postgres://app:s3cretpw@db/pm", "postgres://app:***@db/pm"),
        # a password with an unencoded '/', '#' or '@' still ends at the last '@'
        ("postgresql://app:a/b#c@d@db:5432/pm", "postgresql://app:***@db:5432/pm"),
        # ?password= and other secret query parameters; harmless ones stay
        (
            "postgresql://app@db/pm?sslmode=require&password=s3cretpw",
            "postgresql://app@db/pm?sslmode=require&password=***",
        ),
        ("postgresql://app@db/pm?PASSWORD=s3cretpw", "postgresql://app@db/pm?PASSWORD=***"),
        # key=value connection strings, bare or quoted
        ("host=db password=s3cretpw dbname=pm", "host=db password=*** dbname=pm"),
        ("host=db password = 's3 cret\\' pw' user=app", "host=db password = *** user=app"),
        ("host=db sslpassword=keypass user=app", "host=db sslpassword=*** user=app"),
        # webhook URLs: the whole user part (often a token) and token-like query values
        (
            "https://hooktoken@hooks.example.com/in?token=abc123&channel=ops",
            "https://***@hooks.example.com/in?token=***&channel=ops",
        ),
        ("https://user:pw@hooks.example.com/x", "https://***@hooks.example.com/x"),
        (
            "https://hooks.example.com/x?sig=abc&api_key=k1&secret=s",
            "https://hooks.example.com/x?sig=***&api_key=***&secret=***",
        ),
        # inside a longer message
        (
            'cannot parse "postgresql://app:s3cretpw@[bad/pm": oops',
            'cannot parse "postgresql://app:***@[bad/pm": oops',
        ),
        # nothing secret: unchanged
        ("postgresql://app@db:5432/pm", "postgresql://app@db:5432/pm"),
        ("host=db dbname=pm", "host=db dbname=pm"),
        ("https://hooks.example.com/in?channel=ops", "https://hooks.example.com/in?channel=ops"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_redact_masks_known_secrets_quoted_back_in_a_message() -> None:
    url = "postgresql://app:p%ZZword@db/pm"
    message = 'invalid percent-encoded token: "p%ZZword"'
    assert secrets_of(url) == ["p%ZZword"]
    assert redact(message, also=secrets_of(url)) == 'invalid percent-encoded token: "***"'


def test_secrets_of_every_form() -> None:
    assert secrets_of("postgresql://u:pa%40ss@h/db") == ["pa%40ss", "pa@ss"]
    assert secrets_of("host=h password='a b' user=u") == ["a b"]
    assert secrets_of("https://tok@h/x?key=k1") == ["tok", "k1"]
    assert secrets_of("postgresql://u@h/db") == []
