"""Dashboard users: ``tenantcost users add|list|remove|set-password|set-role|token``.

Each user has one role (see ``ROLES``); a password (scrypt hash) for the login form, an API
token (SHA-256 hash) for ``Authorization: Bearer``, or both. Clear-text secrets are shown
once, when created, and never stored.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console

from tenantcost.config import get_settings
from tenantcost.db.connect import Connection, connect
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.output import OutputFormat, emit
from tenantcost.web.security import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    new_token,
    sha256_hex,
)


class Role(StrEnum):
    executive = "executive"
    analyst = "analyst"
    dba = "dba"


ROLES: dict[str, str] = {
    "executive": "reads every page, report and API (C-suite, VPs/directors)",
    "analyst": "reads every page, report and API (business_analysts)",
    "dba": "reads everything and changes cost settings (db_administrators)",
}


def _sql(name: str) -> str:
    return queries("tenantcost.web")[name]


def _users_sql(name: str) -> str:
    return queries("tenantcost.web", "users.sql")[name]


def check_password(password: str) -> str:
    """The password, when it has at least MIN_PASSWORD_LENGTH characters that are not
    spaces (ten spaces, or a short word padded with them, are refused)."""
    if "\x00" in password:
        raise UserError("the password contains a NUL character", "choose another password")
    if sum(not c.isspace() for c in password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"the password has fewer than {MIN_PASSWORD_LENGTH} characters besides spaces",
            "choose a longer password (a passphrase works well)",
        )
    return password


_DURATION = re.compile(r"(?P<amount>[0-9]{1,6})(?P<unit>[hdw]?)")
_UNIT_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}
MAX_TOKEN_DAYS = 3650


def parse_expiry(text: str) -> int:
    """``--expires-in``: ``12h``, ``30d``, ``8w`` or a plain number of days → seconds
    (1 hour to 10 years)."""
    match = _DURATION.fullmatch(text.strip().lower())
    seconds = int(match["amount"]) * _UNIT_SECONDS[match["unit"]] if match else 0
    if not match or not 3600 <= seconds <= MAX_TOKEN_DAYS * 86400:
        raise UserError(
            f"--expires-in {text!r} is not a duration from 1 hour to {MAX_TOKEN_DAYS} days",
            "use e.g. 12h, 30d or 8w (a plain number counts days)",
        )
    return seconds


def default_expiry_seconds() -> int:
    return get_settings().token_expiry_days * 86400


@dataclass(frozen=True)
class NewUser:
    name: str
    role: str
    token: str | None  # clear text, shown once


def add_user(
    conn: Connection,
    name: str,
    role: str,
    *,
    password: str | None,
    token: bool,
    expires_seconds: int | None = None,
) -> NewUser:
    """Create a user with a password, a token or both; UserError if the name is taken.

    The token expires after ``expires_seconds`` (default TENANTCOST_TOKEN_EXPIRY_DAYS)."""
    import psycopg

    if role not in ROLES:
        raise UserError(f"unknown role {role!r}", f"use one of: {', '.join(ROLES)}")
    if password is None and not token:
        raise UserError(f"user {name} would have no way to log in", "give a password or --token")
    clear_token = new_token() if token else None
    try:
        with conn.transaction():
            conn.execute(
                _users_sql("user_insert"),
                {
                    "expires_seconds": expires_seconds or default_expiry_seconds(),
                    "name": name,
                    "role": role,
                    "password_hash": hash_password(check_password(password))
                    if password is not None
                    else None,
                    "token_hash": sha256_hex(clear_token) if clear_token else None,
                },
            )
    except psycopg.errors.UniqueViolation:
        raise UserError(
            f"a user named {name!r} already exists", "pick another name or `tenantcost users list`"
        ) from None
    except psycopg.errors.CheckViolation:
        raise UserError(
            f"{name!r} is not a valid user name",
            "use 1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit",
        ) from None
    return NewUser(name, role, clear_token)


def _require(
    conn: Connection,
    sql_name: str,
    params: dict[str, Any],
    sql: Callable[[str], str] = _sql,
) -> None:
    with conn.transaction():
        row = conn.execute(sql(sql_name), params).fetchone()
        if row is None:
            raise UserError(f"no user named {params['name']!r}", "see `tenantcost users list`")
        conn.execute(_sql("sessions_end_for_user"), {"user_id": row["id"]})


def set_password(conn: Connection, name: str, password: str) -> None:
    """Replace the password and end the user's sessions."""
    params = {"name": name, "password_hash": hash_password(check_password(password))}
    _require(conn, "user_set_password", params)


def issue_token(conn: Connection, name: str, expires_seconds: int | None = None) -> str:
    """A new API token (the old one stops working), valid for ``expires_seconds`` (default
    TENANTCOST_TOKEN_EXPIRY_DAYS); returned in clear text once."""
    token = new_token()
    params = {
        "name": name,
        "token_hash": sha256_hex(token),
        "expires_seconds": expires_seconds or default_expiry_seconds(),
    }
    _require(conn, "user_set_token", params, _users_sql)
    return token


def revoke_token(conn: Connection, name: str) -> None:
    params = {"name": name, "token_hash": None, "expires_seconds": 0}
    _require(conn, "user_set_token", params, _users_sql)


def set_role(conn: Connection, name: str, role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}", f"use one of: {', '.join(ROLES)}")
    _require(conn, "user_set_role", {"name": name, "role": role})


def remove_user(conn: Connection, name: str) -> None:
    """Delete the user; their sessions end with them (ON DELETE CASCADE)."""
    with conn.transaction():
        if conn.execute(_sql("user_delete"), {"name": name}).rowcount == 0:
            raise UserError(f"no user named {name!r}", "see `tenantcost users list`")


#: The columns of ``users list`` (users.sql users_list), also for an empty CSV's header.
USER_COLUMNS = (
    "name",
    "role",
    "has_password",
    "has_token",
    "token_expires_at",
    "token_last_used_at",
    "created_at",
    "created_by",
    "last_login_at",
    "active_sessions",
)


def list_users(conn: Connection) -> list[dict[str, Any]]:
    return conn.execute(_users_sql("users_list")).fetchall()


# --------------------------------------------------------------------------- CLI

app = typer.Typer(
    help=(
        "Dashboard users and roles: executive and analyst read, dba also changes cost settings. "
        "Passwords and tokens are stored hashed and shown once."
    ),
    no_args_is_help=True,
)
err = Console(stderr=True)

PASSWORD_STDIN = typer.Option(
    False,
    "--password-stdin",
    help="Read the password from standard input (first line) instead of prompting.",
)


EXPIRES_IN = typer.Option(
    None,
    "--expires-in",
    help="How long the API token stays valid: 12h, 30d, 8w or days "
    "(default TENANTCOST_TOKEN_EXPIRY_DAYS).",
)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise UserError("no password on standard input", "echo the password into the command")
        return check_password(line)
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return check_password(password)


@app.command("add")
def add_command(
    name: str = typer.Argument(..., help="Login name (letters, digits, _ . @ -)."),
    role: Role = typer.Option(..., "--role", help="executive, analyst or dba."),
    password_stdin: bool = PASSWORD_STDIN,
    token: bool = typer.Option(
        False,
        "--token",
        help="Issue an API token (printed once) instead of asking for a password.",
    ),
    with_password: bool = typer.Option(
        False, "--with-password", help="With --token: also ask for (or read) a password."
    ),
    expires_in: str | None = EXPIRES_IN,
) -> None:
    """Add a dashboard user with a role, a hashed password and/or an API token."""
    expires = parse_expiry(expires_in) if expires_in is not None else None
    password = read_password(password_stdin) if (not token or with_password) else None
    with connect() as conn:
        user = add_user(
            conn, name, role.value, password=password, token=token, expires_seconds=expires
        )
    err.print(f"added {user.name} ({user.role}: {ROLES[user.role]})")
    if user.token:
        err.print("API token (shown once; use it as 'Authorization: Bearer <token>'):")
        print(user.token)


@app.command("list")
def list_command(
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """Every dashboard user, their role, how they log in, when their token expires and was
    last used, and their active sessions."""
    with connect() as conn:
        rows = list_users(conn)
    emit(
        rows,
        fmt,
        columns=USER_COLUMNS,
        title="dashboard users",
        empty="no dashboard users; add one with `tenantcost users add NAME --role dba`",
    )


@app.command("remove")
def remove_command(name: str = typer.Argument(..., help="The user to delete.")) -> None:
    """Delete a user; their sessions end at once and their token stops working."""
    with connect() as conn:
        remove_user(conn, name)
    err.print(f"removed {name}")


@app.command("set-password")
def set_password_command(
    name: str = typer.Argument(..., help="The user whose password changes."),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Set a new password; the user's open sessions end."""
    password = read_password(password_stdin)
    with connect() as conn:
        set_password(conn, name, password)
    err.print(f"password of {name} changed; their sessions ended")


@app.command("set-role")
def set_role_command(
    name: str = typer.Argument(..., help="The user whose role changes."),
    role: Role = typer.Argument(..., help="executive, analyst or dba."),
) -> None:
    """Change a user's role; their open sessions end."""
    with connect() as conn:
        set_role(conn, name, role.value)
    err.print(f"{name} is now {role.value}")


@app.command("token")
def token_command(
    name: str = typer.Argument(..., help="The user who gets a new API token."),
    revoke: bool = typer.Option(False, "--revoke", help="Remove the token instead."),
    expires_in: str | None = EXPIRES_IN,
) -> None:
    """Issue a new API token (printed once; the old one stops working), or --revoke it."""
    expires = parse_expiry(expires_in) if expires_in is not None else None
    with connect() as conn:
        if revoke:
            revoke_token(conn, name)
            err.print(f"token of {name} revoked")
            return
        token = issue_token(conn, name, expires)
    days = (expires or default_expiry_seconds()) / 86400
    err.print(f"new API token for {name} (shown once; valid {days:g} days):")
    print(token)
