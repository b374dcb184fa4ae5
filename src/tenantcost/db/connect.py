"""Connections: which database we talk to, and errors a person can act on."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tenantcost.config import Settings, get_settings
from tenantcost.db.embedded import EmbeddedServer
from tenantcost.errors import DatabaseUnavailable, UserError

MIN_SERVER_VERSION = 150000

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[dict[str, Any]]
else:
    # psycopg loads when a connection is made, so that a command group's `--help` does not
    # pay for it; every module annotates with Connection only (postponed annotations).
    Connection = Any


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


# Names whose values are secrets, in URL query strings and key=value connection strings:
# libpq's password/sslpassword, and what webhook URLs carry (tokens, keys, signatures).
SECRET_NAMES = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "sslpassword",
        "token",
        "access_token",
        "auth",
        "secret",
        "client_secret",
        "key",
        "api_key",
        "apikey",
        "sig",
        "signature",
    }
)
MASK = "***"
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_QUERY_PAIR = re.compile(r"(?P<sep>[?&;])(?P<key>[^=&;#]+)=(?P<value>[^&;#]*)")
_DSN_PAIR = re.compile(
    r"(?P<key>\b(?:" + "|".join(sorted(SECRET_NAMES, key=len, reverse=True)) + r"))"
    r"(?P<eq>\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'?|[^\s'&;]*)",
    re.IGNORECASE,
)
# libpq's URL schemes: there the user name is not a secret, only the password is.
_DB_SCHEMES = frozenset({"postgresql", "postgres"})


def _split_url(url: str) -> tuple[str, str, str, str]:
    """(scheme, userinfo or "", host part, the rest: path, query, fragment)."""
    scheme, rest = url.split("://", 1)
    cut = len(rest)
    for mark in ("/", "?", "#"):
        if (i := rest.find(mark)) >= 0:
            cut = min(cut, i)
    if scheme.lower() in _DB_SCHEMES:
        # a password with an unencoded "/" or "#" still ends at the last "@" before the query
        before_query = rest.split("?", 1)[0]
        at = before_query.rfind("@")
        if at >= 0:
            host_end = at + 1 + len(rest[at + 1 :].split("/", 1)[0].split("?", 1)[0])
            return scheme, rest[:at], rest[at + 1 : host_end], rest[host_end:]
    authority, tail = rest[:cut], rest[cut:]
    userinfo, at_sign, host = authority.rpartition("@")
    return scheme, userinfo if at_sign else "", host, tail


def _redact_url(url: str) -> str:
    scheme, userinfo, host, tail = _split_url(url)
    if userinfo:
        if scheme.lower() in _DB_SCHEMES:
            user, colon, _password = userinfo.partition(":")
            userinfo = f"{user}:{MASK}" if colon else user
        else:  # http(s) webhooks: the user part may be a token itself
            userinfo = MASK
        host = f"{userinfo}@{host}"

    def pair(match: re.Match[str]) -> str:
        if unquote(match["key"]).strip().lower() in SECRET_NAMES:
            return f"{match['sep']}{match['key']}={MASK}"
        return match[0]

    return f"{scheme}://{host}{_QUERY_PAIR.sub(pair, tail)}"


def redact(text: str, *, also: Iterable[str] = ()) -> str:
    """``text`` with every secret masked, for messages, logs and printed settings.

    Handles URLs (``postgresql://user:PASSWORD@…`` keeps the user; other schemes such as a
    webhook's ``https://TOKEN@…`` lose the whole user part), secret query parameters
    (``?password=…``, ``?token=…``, see ``SECRET_NAMES``), key=value connection strings
    (``password=… `` or ``password='…'``) and any of these inside a longer message.
    ``also``: more secret strings to mask wherever they appear (e.g. a password libpq
    quotes back in a parse error).
    """
    masked = _URL.sub(lambda m: _redact_url(m[0]), text)
    masked = _DSN_PAIR.sub(
        lambda m: m[0] if m["value"] == MASK else f"{m['key']}{m['eq']}{MASK}", masked
    )
    for secret in sorted({s for s in also if len(s) >= 3}, key=len, reverse=True):
        masked = masked.replace(secret, MASK)
    return masked


def secrets_of(url: str) -> list[str]:
    """The password(s) in a connection URL or key=value string, raw and percent-decoded."""
    found: list[str] = []
    for match in _URL.finditer(url):
        scheme, userinfo, _host, tail = _split_url(match[0])
        if scheme.lower() not in _DB_SCHEMES:
            found.append(userinfo)
        elif ":" in userinfo:
            found.append(userinfo.partition(":")[2])
        found += [
            m["value"]
            for m in _QUERY_PAIR.finditer(tail)
            if unquote(m["key"]).strip().lower() in SECRET_NAMES
        ]
    found += [m["value"].strip("'") for m in _DSN_PAIR.finditer(url)]
    return list(dict.fromkeys(s for raw in found for s in (raw, unquote(raw)) if s))


#: SQLSTATEs of a server that refuses connections for now: cannot_connect_now (starting up,
#: shutting down, in recovery), too_many_connections.
CANNOT_CONNECT_NOW = frozenset({"57P03", "53300"})
#: The same, as libpq words them when the server's message comes without a SQLSTATE.
NOT_NOW_MESSAGES = ("is starting up", "is shutting down", "too many clients", "server closed")


def explain_connect_error(url: str, exc: psycopg.Error) -> UserError:
    """Turn libpq's message into what went wrong and what to do about it (never a secret)."""
    import psycopg

    text = redact(str(exc), also=secrets_of(url))
    shown = redact(url, also=secrets_of(url))
    if isinstance(exc, psycopg.ProgrammingError):  # libpq could not parse the URL/DSN
        return UserError(
            f"the database connection string {shown} is not valid: {text.strip()}",
            "fix TENANTCOST_DATABASE_URL (postgresql://user:password@host:port/database; "
            "percent-encode special characters in the password)",
        )
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
    if exc.sqlstate in CANNOT_CONNECT_NOW or any(s in text for s in NOT_NOW_MESSAGES):
        return DatabaseUnavailable(
            f"PostgreSQL at {shown} refuses connections for now: {text.strip().splitlines()[-1]}",
            "wait for it to finish starting (or for a connection slot), then try again",
        )
    if "timeout" in text or "refused" in text or "could not" in text or "translate" in text:
        return DatabaseUnavailable(
            f"cannot reach PostgreSQL at {shown}: {text.strip().splitlines()[-1]}",
            "check that the server is running and the host/port in TENANTCOST_DATABASE_URL "
            "(or unset it to use the embedded server: `tenantcost db start`)",
        )
    return UserError(f"cannot connect to PostgreSQL at {shown}: {text.strip()}")


def connect(url: str | None = None, *, autocommit: bool = False) -> Connection:
    """A psycopg connection with dict rows; UserError when it cannot be made or is too old."""
    import psycopg
    from psycopg.rows import dict_row

    embedded = url is None and not get_settings().database_url
    url = url or database_url()
    try:
        conn = psycopg.connect(
            url,
            autocommit=autocommit,
            row_factory=dict_row,
            connect_timeout=get_settings().connect_timeout,
        )
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
        error = explain_connect_error(url, exc)
        if embedded and "does not exist" in str(exc):  # e.g. dropped by hand while running
            error = UserError(error.message, "run `tenantcost db start`: it creates it again")
        # from None: the original message may quote the password back
        raise error from None
    if conn.info.server_version < MIN_SERVER_VERSION:
        version = conn.info.server_version
        conn.close()
        raise UserError(
            f"PostgreSQL {version // 10000} at {redact(url)} is too old",
            "tenantcost needs PostgreSQL 15 or newer",
        )
    _citus_session(conn)
    return conn


def _citus_session(conn: Connection) -> None:
    """On a Citus coordinator, let this session's queries repartition joins not on the tenant
    (payments to subscriptions by id): the same rows, where Citus would refuse the query; one
    connection per node (sequential), as a repartition touching a table with a key to a
    reference table read in the same transaction needs. No change (one catalog read) without
    the citus extension."""
    conn.execute(
        "SELECT set_config('citus.enable_repartition_joins', 'on', false),"
        "       set_config('citus.multi_shard_modify_mode', 'sequential', false)"
        "  FROM pg_catalog.pg_extension WHERE extname = 'citus'"
    )
    if not conn.autocommit:
        conn.commit()
