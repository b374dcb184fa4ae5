"""Errors a user can cause, each carrying what went wrong and how to fix it."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in input or environment that the user can fix.

    The CLI prints ``message`` and ``hint`` (one clear message, no traceback) and exits 2.
    """

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class DatabaseUnavailable(UserError):
    """PostgreSQL cannot be reached, or refuses connections for now (starting up, shutting
    down, out of connection slots): an outage a long-running command waits out, where a wrong
    password or a missing database is a mistake it reports."""
