"""Connections: which database we talk to, and errors a person can act on."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row

from tenantcost.config import Settings, get_settings
from tenantcost.db.embedded import EmbeddedServer
from tenantcost.errors import UserError

MIN_SERVER_VERSION = 150000

Connection = psycopg.Connection[dict[str, Any]]


def embedded_server(settings: Settings | None = None) -> EmbeddedServer:
    settings = settings or get_settings()
    return EmbeddedServer(settings.data_dir, settings.embedded_port)


def database_url(settings: Settings | None = None, *, start: bool = True) -> str:
    """The URL from settings, or the embedded server's (started on demand)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    server = embedded_server(settings)
    return server.start() if start else server.url()


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def explain_connect_error(url: str, exc: psycopg.OperationalError) -> UserError:
    """Turn libpq's message into what went wrong and what to do about it."""
    text = str(exc)
    shown = redact(url)
    if "password authentication failed" in text or "no password supplied" in text:
        return UserError(
            f"PostgreSQL at {shown} rejected the credentials",
            "check the user name and password in TENANTCOST_DATABASE_URL",
        )
    if "does not exist" in text:
        return UserError(
            f"PostgreSQL at {shown} says: {text.strip().splitlines()[-1]}",
            "create the database or role, or fix TENANTCOST_DATABASE_URL",
        )
    if "timeout" in text or "refused" in text or "could not" in text or "translate" in text:
        return UserError(
            f"cannot reach PostgreSQL at {shown}: {text.strip().splitlines()[-1]}",
            "check that the server is running and the host/port in TENANTCOST_DATABASE_URL "
            "(or unset it to use the embedded server: `tenantcost db start`)",
        )
    return UserError(f"cannot connect to PostgreSQL at {shown}: {text.strip()}")


def connect(url: str | None = None, *, autocommit: bool = False) -> Connection:
    """A psycopg connection with dict rows; UserError when it cannot be made or is too old."""
    url = url or database_url()
    try:
        conn = psycopg.connect(
            url,
            autocommit=autocommit,
            row_factory=dict_row,
            connect_timeout=get_settings().connect_timeout,
        )
    except psycopg.OperationalError as exc:
        raise explain_connect_error(url, exc) from exc
    if conn.info.server_version < MIN_SERVER_VERSION:
        version = conn.info.server_version
        conn.close()
        raise UserError(
            f"PostgreSQL {version // 10000} at {redact(url)} is too old",
            "tenantcost needs PostgreSQL 15 or newer",
        )
    return conn
