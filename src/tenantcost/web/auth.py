"""Who is asking, and may they: sessions (signed cookie), API tokens, roles, CSRF.

Access matrix (seed 000 step 5, mapped to dashboard roles):

==========  ======================================  ==========================
role        reads pages, API, exports, /metrics     changes cost settings
==========  ======================================  ==========================
executive   yes (settings page: no)                 no
analyst     yes (settings page: no)                 no
dba         yes, including settings                 yes
==========  ======================================  ==========================

Nothing is anonymous except ``/healthz``; nothing is ever served to a tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request
from itsdangerous import BadSignature, Signer
from psycopg_pool import ConnectionPool

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.web.security import (
    hash_password,
    new_csrf_token,
    new_session_id,
    same,
    sha256_hex,
    verify_password,
)

SESSION_COOKIE = "tc_session"
LOGIN_COOKIE = "tc_login"
SESSION_SECONDS = 12 * 3600
CSRF_HEADER = "x-csrf-token"

Permission = Literal["read", "settings"]
PERMISSIONS: dict[Permission, frozenset[str]] = {
    "read": frozenset({"executive", "analyst", "dba"}),
    "settings": frozenset({"dba"}),
}
# Spent on unknown names too, so a failed login takes as long whether or not the user exists.
_DUMMY_HASH = hash_password("not a real password")


def _sql(name: str) -> str:
    return queries("tenantcost.web")[name]


def _users_sql(name: str) -> str:
    """Token queries (expiry, last use: migration 0013)."""
    return queries("tenantcost.web", "users.sql")[name]


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    via: Literal["session", "token"]
    csrf_token: str | None = None
    session_hash: str | None = None

    def may(self, permission: Permission) -> bool:
        return self.role in PERMISSIONS[permission]


class NotAuthenticated(Exception):
    """No valid session or token: 401 for the API, a redirect to /login for pages."""


class Forbidden(Exception):
    """Authenticated, but the role may not do this: 403."""

    def __init__(self, user: User, permission: Permission) -> None:
        super().__init__(f"role {user.role} may not {permission}")
        self.user = user
        self.permission = permission


class CsrfRejected(Exception):
    """A state-changing request without the session's CSRF token: 403."""


def make_signer(secret: str) -> Signer:
    return Signer(secret, salt="tenantcost-session")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def user_from_token(conn: Connection, token: str) -> User | None:
    """The token's user while the token has not expired (its use is noted)."""
    row = conn.execute(_users_sql("user_by_token"), {"token_hash": sha256_hex(token)}).fetchone()
    return None if row is None else User(row["id"], row["name"], row["role"], "token")


def user_from_cookie(conn: Connection, signer: Signer, cookie: str) -> User | None:
    try:
        session_id = signer.unsign(cookie).decode("ascii")
    except (BadSignature, UnicodeDecodeError):
        return None
    id_hash = sha256_hex(session_id)
    row = conn.execute(_sql("session_user"), {"id_hash": id_hash}).fetchone()
    if row is None:
        return None
    return User(row["id"], row["name"], row["role"], "session", row["csrf_token"], id_hash)


def authenticate(conn: Connection, signer: Signer, request: Request) -> User | None:
    """The user behind a Bearer token (wins) or the session cookie; None when neither is valid."""
    token = bearer_token(request)
    if token is not None:
        return user_from_token(conn, token)
    cookie = request.cookies.get(SESSION_COOKIE)
    return user_from_cookie(conn, signer, cookie) if cookie else None


def password_login(
    pool: ConnectionPool[Any], signer: Signer, name: str, password: str
) -> str | None:
    """A new session's signed cookie when the password is right; None otherwise, in the
    same time either way. Runs on the login thread (``throttle.HashGate``) and holds a
    pooled connection only for its two short queries, not while hashing."""
    with pool.connection() as conn:
        row = conn.execute(_sql("user_by_name"), {"name": name}).fetchone()
    stored = row["password_hash"] if row else None
    ok = verify_password(password, stored or _DUMMY_HASH)
    if row is None or stored is None or not ok:
        return None
    with pool.connection() as conn:
        conn.execute(_sql("user_logged_in"), {"id": row["id"]})
        return start_session(conn, signer, int(row["id"]))


def start_session(conn: Connection, signer: Signer, user_id: int) -> str:
    """A new session for the user; returns the signed cookie value."""
    session_id = new_session_id()
    with conn.transaction():
        conn.execute(_sql("sessions_expired_delete"))
        conn.execute(
            _sql("session_insert"),
            {
                "id_hash": sha256_hex(session_id),
                "user_id": user_id,
                "csrf_token": new_csrf_token(),
                "seconds": SESSION_SECONDS,
            },
        )
    return signer.sign(session_id).decode("ascii")


def end_session(conn: Connection, user: User) -> None:
    if user.session_hash:
        conn.execute(_sql("session_delete"), {"id_hash": user.session_hash})


def check_csrf(user: User, submitted: str | None) -> None:
    """Cookie-authenticated writes carry the session's CSRF token (form field or header).

    Bearer-token requests are not sent by browsers on their own, so they need none.
    """
    if user.via == "token":
        return
    if not same(user.csrf_token, submitted):
        raise CsrfRejected()


def require(permission: Permission) -> Callable[[User], User]:
    def check(user: User) -> User:
        if not user.may(permission):
            raise Forbidden(user, permission)
        return user

    return check
