"""Signed tenant sessions: the value an application SETs as ``app.current_tenant_id``.

A tenant-facing session (a member of ``application_service``) sees the rows of the tenant in
``app.current_tenant_id`` only when that value carries an HMAC-SHA256 signature made with the
database's tenant key (``tenantcost_tenant_key``, readable by its owner and
``db_administrators`` only; ``tenantcost db tenant-key`` prints or rotates it). The
database's ``tenantcost_current_tenant()`` checks it; a bare tenant id, a forged or expired
value, or a value made for another backend is NULL: nothing is visible.

Token: ``v1.<tenant uuid>.<expires: unix seconds>.<backend pid>.<hex HMAC>``, the HMAC taken
over ``v1.<tenant uuid>.<expires>.<backend pid>``. Binding it to the backend process makes a
token read from ``pg_stat_activity`` by another session useless there.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.sql

from tenantcost.db.queries import queries
from tenantcost.errors import UserError

VERSION = "v1"
DEFAULT_TTL_SECONDS = 300
KEY_MIN_BYTES = 32
KEY_MAX_BYTES = 64


def parse_key(key: bytes | str) -> bytes:
    """The key as bytes (hex text accepted, as ``tenantcost db tenant-key`` prints it)."""
    if isinstance(key, str):
        try:
            raw = bytes.fromhex(key.strip())
        except ValueError:
            raise UserError(
                "the tenant key is not hexadecimal", "copy it from `tenantcost db tenant-key`"
            ) from None
    else:
        raw = key
    if not KEY_MIN_BYTES <= len(raw) <= KEY_MAX_BYTES:
        raise UserError(
            f"the tenant key has {len(raw)} bytes; it must have {KEY_MIN_BYTES} to {KEY_MAX_BYTES}",
            "copy it from `tenantcost db tenant-key`",
        )
    return raw


def tenant_token(
    key: bytes | str,
    tenant_id: uuid.UUID | str,
    backend_pid: int,
    *,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    now: float | None = None,
) -> str:
    """The signed value for ``app.current_tenant_id`` (pure: no database)."""
    tenant = uuid.UUID(str(tenant_id))
    if ttl_seconds <= 0:
        raise UserError(f"ttl_seconds must be positive, not {ttl_seconds}")
    expires = int(time.time() if now is None else now) + ttl_seconds
    message = f"{VERSION}.{tenant}.{expires}.{int(backend_pid)}"
    signature = hmac.new(parse_key(key), message.encode(), hashlib.sha256).hexdigest()
    return f"{message}.{signature}"


def set_tenant(
    conn: psycopg.Connection[Any],
    key: bytes | str,
    tenant_id: uuid.UUID | str,
    *,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    local: bool = True,
) -> None:
    """Act for ``tenant_id`` on ``conn`` (psycopg 3).

    ``local=True`` (default) lasts until the end of the current transaction (SET LOCAL: a
    pooled connection never carries a tenant over); open the transaction first.
    """
    token = tenant_token(key, tenant_id, conn.info.backend_pid, ttl_seconds=ttl_seconds)
    if local:
        # SET LOCAL, not set_config(): the same on PostgreSQL, and the one form Citus forwards
        # to the workers (citus.propagate_set_commands = 'local', revision 0023), where the
        # policies of distributed tables run.
        conn.execute(
            psycopg.sql.SQL("SET LOCAL app.current_tenant_id = {}").format(
                psycopg.sql.Literal(token)
            )
        )
    else:
        conn.execute("SELECT set_config('app.current_tenant_id', %s, false)", (token,))


def _sql(name: str) -> str:
    return queries("tenantcost.db")[name]


@contextmanager
def _key_access(action: str) -> Iterator[None]:
    """Turn a missing revision or a missing privilege into a message a person can act on."""
    try:
        yield
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction):
        raise UserError(
            "this database has no tenant signing key yet", "run `tenantcost db upgrade`"
        ) from None
    except psycopg.errors.InsufficientPrivilege:
        raise UserError(
            f"this role may not {action} the tenant signing key",
            "connect as the database owner or a member of db_administrators",
        ) from None


def read_key(conn: psycopg.Connection[Any]) -> bytes:
    """The database's tenant key (needs its owner or db_administrators)."""
    with _key_access("read"), conn.transaction():
        row = conn.execute(_sql("tenant_key_get")).fetchone()
    if row is None:
        raise UserError(
            "the tenant signing key is missing", "run `tenantcost db tenant-key --rotate`"
        )
    return bytes(row[0] if isinstance(row, tuple) else row["key"])


def rotate_key(conn: psycopg.Connection[Any]) -> bytes:
    """Install a new random 32-byte key; every token signed with the old one stops working."""
    new = secrets.token_bytes(32)
    with _key_access("replace"), conn.transaction():
        conn.execute(_sql("tenant_key_set"), {"key": new})
    return new
