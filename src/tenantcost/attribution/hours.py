"""Pricing the hours a collector pass booked, for ``collect`` and the dashboard's jobs alike."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tenantcost.attribution.ledger import attribute_period
from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.telemetry.timeutil import hour_period


def price_pass_hours(conn: Connection, hours: Iterable[datetime]) -> str | None:
    """Attribute each hour (a pass's usage may straddle an hour boundary). A failure never
    loses the usage, which is already stored: it comes back as a note saying why pricing was
    skipped (and how to fix it), and the next pass tries again."""
    import psycopg

    try:
        for hour in hours:
            attribute_period(conn, hour_period(hour))
    except UserError as exc:  # e.g. no price book in force
        fix = f"; fix: {exc.hint}" if exc.hint else ""
        return f"hourly pricing skipped: {exc.message}{fix}"
    except psycopg.errors.DataError as exc:  # a bad stored row
        return f"hourly pricing skipped: {exc.diag.message_primary or exc}"
    except ArithmeticError as exc:  # e.g. decimal overflow from an absurd stored figure
        return f"hourly pricing skipped: arithmetic error ({type(exc).__name__})"
    return None
