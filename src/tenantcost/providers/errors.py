"""What can go wrong when asking Hostwinds for prices. All are UserErrors: one message, one fix.

No message here ever contains the API key (the client scrubs provider text before using it).
"""

from __future__ import annotations

from tenantcost.errors import UserError


class HostwindsError(UserError):
    """Any failure of a Hostwinds API call."""

    def __init__(self, message: str, hint: str | None = None, *, action: str = "") -> None:
        super().__init__(message, hint)
        self.action = action


class HostwindsApiError(HostwindsError):
    """Hostwinds answered (usually HTTP 200) with ``result: "error"`` in the body."""

    def __init__(
        self, message: str, hint: str | None = None, *, action: str = "", code: str | None = None
    ) -> None:
        super().__init__(message, hint, action=action)
        self.code = code


class HostwindsAuthError(HostwindsApiError):
    """The API key was refused (HTTP 401/403, or an error message about the key)."""


class HostwindsResponseError(HostwindsError):
    """The body is not JSON, or not in the shape hostwinds_api.py expects."""


class HostwindsUnavailable(HostwindsError):
    """Retries ran out: timeouts, connection errors, HTTP 429 or 5xx on every attempt."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        action: str = "",
        last_status: str = "",
        attempts: int = 0,
    ) -> None:
        super().__init__(message, hint, action=action)
        self.last_status = last_status
        self.attempts = attempts
