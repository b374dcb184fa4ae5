"""TENANTCOST_DATABASE_URL is a postgresql:// URL; anything else is one clear message."""

from __future__ import annotations

import pytest

from tenantcost.config import load_settings
from tenantcost.errors import UserError


@pytest.mark.parametrize(
    "url", ["postgresql://u:p@127.0.0.1:5432/db", "postgres://u@localhost/db", None]
)
def test_postgresql_urls_are_read(url: str | None) -> None:
    assert load_settings(database_url=url).database_url == url


@pytest.mark.parametrize(
    "url", ["host=127.0.0.1 port=5432 dbname=db", "mysql://u@h/db", "127.0.0.1:5432/db"]
)
def test_anything_else_is_refused_naming_the_setting_and_the_form(url: str) -> None:
    with pytest.raises(UserError) as refused:
        load_settings(database_url=url)
    assert "database_url: Value error, not a postgresql:// URL" in refused.value.message
    assert "postgresql://user:password@host:5432/dbname" in refused.value.message
