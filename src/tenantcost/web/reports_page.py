"""The Reports page (``/reports``) and its API: executive reports generated, each delivery's
status, the schedule, and "send now" for a dba (CSRF-protected form; Bearer token on the API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from tenantcost.config import Settings
from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.web.auth import CSRF_HEADER, User, check_csrf
from tenantcost.web.deps import context, db, dba, reader
from tenantcost.web.deps import page as render_page
from tenantcost.web.render import jsonable

router = APIRouter()


def reports_listing(conn: Connection, settings: Settings, limit: int = 200) -> dict[str, Any]:
    """Runs (newest period first) with their deliveries, and each kind's next time."""
    from tenantcost.execreport.run import channels, cron_of, history
    from tenantcost.execreport.schedule import Kind, next_fire_times, period_before
    from tenantcost.execreport.schedule import period_containing as containing

    runs: dict[int, dict[str, Any]] = {}
    for row in history(conn, None, limit):
        run = runs.setdefault(
            row["id"],
            {
                "id": row["id"],
                "kind": row["kind"],
                "period": containing(Kind(row["kind"]), row["period_start"]).label,
                "trigger": row["trigger"],
                "late": row["late"],
                "month": row["month"],
                "figures": "provisional" if row["provisional"] else "final",
                "generated_at": row["generated_at"],
                "deliveries": [],
            },
        )
        if row["channel"] is not None:
            run["deliveries"].append(
                {
                    "channel": row["channel"],
                    "target": row["target"],
                    "status": row["status"],
                    "requested_by": row["requested_by"],
                    "updated_at": row["updated_at"],
                }
            )
    now = datetime.now(UTC)
    schedule = []
    for kind in Kind:
        expression = cron_of(settings, kind)
        upcoming = next_fire_times(expression, now, 1) if expression else []
        schedule.append(
            {
                "kind": kind.value,
                "cron_utc": expression or "off",
                "next_at": upcoming[0] if upcoming else None,
                "covers": period_before(kind, upcoming[0]).label if upcoming else None,
                "last_whole_period": period_before(kind, now).label,
            }
        )
    return {
        "runs": list(runs.values()),
        "schedule": schedule,
        "channels": [{"channel": c.name, "target": c.target} for c in channels(settings)],
    }


def send_report(
    conn: Connection, settings: Settings, user: User, kind: str, period: str
) -> dict[str, Any]:
    """Send one report now (dba); a failed delivery stays in the outbox for the jobs."""
    from tenantcost.execreport.run import send_now
    from tenantcost.execreport.schedule import Kind, parse_period, period_before

    if kind not in {k.value for k in Kind}:
        raise UserError(f"{kind!r} is not a report kind", "choose daily, weekly or monthly")
    chosen = Kind(kind)
    window = (
        parse_period(chosen, period) if period.strip() else period_before(chosen, datetime.now(UTC))
    )
    deliveries = send_now(conn, settings, window, requested_by=user.name)
    return {"kind": chosen.value, "period": window.label, "deliveries": deliveries}


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(
    request: Request, user: User = Depends(reader), conn: Connection = Depends(db)
) -> Response:
    values = {
        "title": "Reports",
        "r": reports_listing(conn, context(request).settings),
        "sent": request.query_params.get("sent"),
        "error": None,
    }
    return render_page(request, "reports.html", values)


@router.post("/reports/send", response_class=HTMLResponse, include_in_schema=False)
def reports_send(
    request: Request,
    kind: str = Form(...),
    period: str = Form(""),
    csrf_token: str = Form(""),
    user: User = Depends(dba),
    conn: Connection = Depends(db),
) -> Response:
    check_csrf(user, csrf_token)
    settings = context(request).settings
    try:
        result = send_report(conn, settings, user, kind, period)
    except UserError as exc:
        values = {
            "title": "Reports",
            "r": reports_listing(conn, settings),
            "sent": None,
            "error": exc,
        }
        return render_page(request, "reports.html", values, 400)
    sent = f"{result['kind']} {result['period']}"
    return RedirectResponse(f"/reports?{urlencode({'sent': sent})}", status_code=303)


@router.get("/api/v1/reports", tags=["reports"])
def api_reports(
    request: Request, user: User = Depends(reader), conn: Connection = Depends(db)
) -> JSONResponse:
    """Executive reports generated, with each delivery's status, and the schedule."""
    return JSONResponse(jsonable(reports_listing(conn, context(request).settings)))


@router.post("/api/v1/reports/send", tags=["reports"])
def api_reports_send(
    request: Request,
    kind: str,
    period: str = "",
    user: User = Depends(dba),
    conn: Connection = Depends(db),
) -> JSONResponse:
    """Send one executive report now (dba): ``kind`` daily|weekly|monthly, ``period`` a day,
    ISO week or month (default the last whole one)."""
    check_csrf(user, request.headers.get(CSRF_HEADER))
    return JSONResponse(jsonable(send_report(conn, context(request).settings, user, kind, period)))
