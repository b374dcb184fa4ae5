"""Shared fixtures: a real embedded PostgreSQL per test worker, a fresh database per test.

The cluster lives in a temporary directory (never the user's data directory). A template
database is migrated to head once; each test gets ``CREATE DATABASE … TEMPLATE`` copy,
which takes a few milliseconds, so tests can change anything without cleaning up.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

# Tests never read the user's settings file or data directory.
_TEST_HOME = Path(tempfile.mkdtemp(prefix="tenantcost-tests-"))
os.environ["TENANTCOST_CONFIG"] = str(_TEST_HOME / "no-config.toml")
os.environ["TENANTCOST_DATA_DIR"] = str(_TEST_HOME / "data")
os.environ.pop("TENANTCOST_DATABASE_URL", None)

from tenantcost.config import get_settings  # noqa: E402
from tenantcost.db import migrate  # noqa: E402
from tenantcost.db.embedded import EmbeddedServer  # noqa: E402

get_settings.cache_clear()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Leave no test home behind (clusters, embedded data dirs, demo databases' files): a
    suite run must not fill the disk run after run."""
    import shutil

    shutil.rmtree(_TEST_HOME, ignore_errors=True)


TEMPLATE = "tc_template_head"


def _url_for(base_url: str, database: str) -> str:
    return base_url.rsplit("/", 1)[0] + "/" + database


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedServer]:
    """One embedded cluster for this test process, stopped at the end."""
    server = EmbeddedServer(Path(tempfile.mkdtemp(prefix="tc-pg-", dir=_TEST_HOME)))
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def admin_url(pg_server: EmbeddedServer) -> str:
    """Superuser URL to the maintenance database."""
    return pg_server.url("postgres")


def create_database(admin_url: str, template: str | None = None) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{clause}')
    return _url_for(admin_url, name)


@pytest.fixture(scope="session")
def template_url(admin_url: str) -> str:
    """A database migrated to head, used as the template for every migrated test database."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    url = _url_for(admin_url, TEMPLATE)
    migrate.upgrade(url)
    return url


@pytest.fixture
def empty_url(admin_url: str) -> str:
    """A fresh, empty database (nothing migrated)."""
    return create_database(admin_url)


@pytest.fixture
def migrated_url(admin_url: str, template_url: str) -> str:
    """A fresh database migrated to head."""
    return create_database(admin_url, TEMPLATE)


@pytest.fixture
def migrated_conn(migrated_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A superuser connection (dict rows) to a fresh migrated database."""
    from tenantcost.db.connect import connect

    conn = connect(migrated_url)
    yield conn
    conn.close()


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch, migrated_url: str) -> Iterator[str]:
    """Point the CLI's settings at the fresh migrated database."""
    monkeypatch.setenv("TENANTCOST_DATABASE_URL", migrated_url)
    get_settings.cache_clear()
    yield migrated_url
    get_settings.cache_clear()


@pytest.fixture
def roomy_statements(admin_url: str) -> None:
    """A workload test needs its statements kept in pg_stat_statements from the baseline to
    the last pass. After hundreds of tests the server's table (pg_stat_statements.max) is
    full, and each new entry evicts the least used ones — the workload's just-created entries
    among them, so their calls were lost and the tenants' compute read zero. Empty it first,
    as an operator sizes pg_stat_statements.max above the statements the fleet runs."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")


@pytest.fixture(scope="module")
def fleet(admin_url: str, template_url: str) -> Any:
    """The dashboard tests' small hand-made fleet (tests/e2e/webfleet.py) in its own
    database, one per test module (modules with another ``fleet`` define their own)."""
    from tests.e2e.webfleet import load_small_fleet

    return load_small_fleet(create_database(admin_url, TEMPLATE))


@pytest.fixture(scope="module")
def base(fleet: Any) -> Iterator[str]:
    """A real dashboard server on 127.0.0.1 (ephemeral port) for the module's fleet."""
    from tenantcost.web.serve import running_server

    with running_server(fleet.url) as url:
        yield url
