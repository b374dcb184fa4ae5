"""The JSON API (``/api/v1``), ``/metrics``, ``/healthz`` and the OpenAPI document.

Field names are the BI views' column names; money is a decimal string. Tables answer
``format=csv`` with every filtered, sorted row.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.outbox.store import backlog
from tenantcost.web import data, focus, metrics, whatif
from tenantcost.web.app import context, db, dba, reader
from tenantcost.web.auth import CSRF_HEADER, User, check_csrf
from tenantcost.web.render import csv_text, jsonable
from tenantcost.web.tables import TABLES, fetch, parse_query
from tenantcost.web.views import table_json

router = APIRouter()

TableName = Literal["health", "optimization", "cost_by_plan", "cost_per_email"]
Format = Literal["json", "csv"]


def ok(payload: Any) -> JSONResponse:
    return JSONResponse(jsonable(payload))


@router.get("/healthz", tags=["service"], summary="Liveness (no authentication)")
def healthz(request: Request) -> JSONResponse:
    """``{"status": "ok"}`` when the server answers and the database does."""
    try:
        with context(request).pool.connection(timeout=5) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, user: User = Depends(reader)) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/metrics", tags=["service"], summary="Prometheus metrics")
def prometheus(
    request: Request, user: User = Depends(reader), conn: Connection = Depends(db)
) -> Response:
    """Per-plan tenants, revenue, cost, margin; rollup age; each scheduled job's runs,
    errors and lag (``tenantcost_collector_configured 0`` when no collector runs here); the
    outbox backlog per sink."""
    overview = conn.execute(data.sql("plan_breakdown")).fetchall()
    fresh = data.freshness(conn)
    runner = context(request).runner
    now = time.time()
    text = metrics.render(
        [
            {
                "plan_name": p["plan_name"],
                "tenants": p["tenants"],
                "revenue": p["revenue"],
                "cost": p["cost"],
                "margin_pct": p["margin_pct"],
            }
            for p in overview
        ],
        runner.snapshot() if runner else {},
        collector_configured=bool(runner and runner.collector_configured),
        rollup_age_seconds=round(now - fresh.refreshed_at.timestamp(), 3)
        if fresh.refreshed_at
        else None,
        now=now,
        outbox=backlog(conn, datetime.fromtimestamp(now, UTC)),
    )
    return PlainTextResponse(text, media_type=metrics.CONTENT_TYPE)


@router.get("/api/v1/me", tags=["access"], summary="Who am I")
def me(user: User = Depends(reader)) -> JSONResponse:
    """The authenticated user, role, and what the role may do."""
    return ok(
        {
            "name": user.name,
            "role": user.role,
            "via": user.via,
            "may_change_settings": user.may("settings"),
        }
    )


@router.get("/api/v1/overview", tags=["pages"], summary="Overview (seed 002 §11)")
def overview(user: User = Depends(reader), conn: Connection = Depends(db)) -> JSONResponse:
    """Totals (revenue, cost, margin), margin trend vs ~30 days ago, per-plan breakdown,
    cost drivers with shares, top cost tenants vs their plan's average, tier decisions."""
    return ok(data.overview(conn))


@router.get("/api/v1/health", tags=["pages"], summary="Health status counts")
def health(user: User = Depends(reader), conn: Connection = Depends(db)) -> JSONResponse:
    """Tenants per business_health_status, and when the rollups were refreshed."""
    return ok({"counts": data.health_counts(conn), "freshness": data.freshness(conn).as_dict()})


@router.get("/api/v1/tables/{name}", tags=["tables"], summary="A dashboard table")
def table(
    name: TableName,
    sort: str | None = Query(None, description="Column to sort by (one of the table's columns)."),
    order: Literal["asc", "desc"] | None = Query(None, description="asc or desc."),
    plan: str | None = Query(None, description="Only tenants of this plan_name."),
    health: str | None = Query(None, description="Only this business_health_status."),
    page: int = Query(1, ge=1, description="Page number, from 1."),
    per_page: int = Query(50, ge=1, le=500, description="Rows per page (at most 500)."),
    format: Format = Query("json", description="json (one page) or csv (every row)."),
    user: User = Depends(reader),
    conn: Connection = Depends(db),
) -> Response:
    """health and optimization (seed 000 view 1's queries), cost_by_plan and cost_per_email
    (view 2's queries): sorted, filtered and paged in SQL."""
    spec = TABLES[name]
    params = {
        "sort": sort,
        "order": order,
        "plan": plan,
        "health": health,
        "page": str(page),
        "per_page": str(per_page),
    }
    query = parse_query(spec, params)
    if format == "csv":
        result = fetch(conn, spec, query, paged=False)
        return Response(
            csv_text(result.rows, spec.columns),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return ok(table_json(fetch(conn, spec, query)))


@router.get("/api/v1/shared", tags=["pages"], summary="Cost charged to no tenant")
def shared(user: User = Depends(reader), conn: Connection = Depends(db)) -> JSONResponse:
    """shared_unallocated and no_active_subscription lines (shared_infrastructure_cost)."""
    return ok({"lines": conn.execute(data.sql("shared_lines")).fetchall()})


@router.get("/api/v1/tenants/{tenant_id}", tags=["pages"], summary="One tenant")
def tenant(
    tenant_id: UUID, user: User = Depends(reader), conn: Connection = Depends(db)
) -> JSONResponse:
    """The tenant's summary row, VPS and IPs with cost source and override, their audit
    history, monthly payments and emails, and ledger cost by driver when collected."""
    detail = data.tenant_detail(conn, tenant_id)
    if detail is None:
        return JSONResponse({"error": f"no company has id {tenant_id}"}, status_code=404)
    return ok(detail)


@router.get("/api/v1/settings", tags=["settings"], summary="Cost settings (dba)")
def settings(user: User = Depends(dba), conn: Connection = Depends(db)) -> JSONResponse:
    """Cost settings, their audit trail and the price books (shipped and stored)."""
    return ok(data.settings_page(conn))


class SettingChangeIn(BaseModel):
    value: str = Field(description="New value, e.g. 5.49 or even.")
    reason: str = Field(min_length=1, description="Why (kept in the audit trail).")


def change_setting(
    conn: Connection, user: User, key: str, value: str, reason: str
) -> dict[str, Any]:
    """``costs.store.set_setting`` (re-prices IPs, audits), then refresh the rollups."""
    from tenantcost.costs.store import set_setting
    from tenantcost.report import refresh_rollups

    if not reason.strip():
        raise UserError("a reason is required for every cost change", "fill in the reason")
    change = set_setting(conn, key, value, f"{reason.strip()} [dashboard user {user.name}]")
    refreshed = False
    if change.old != change.new:
        refresh_rollups(conn)
        refreshed = True
    return {
        "key": change.key,
        "old": change.old,
        "new": change.new,
        "repriced_ips": change.repriced,
        "rollups_refreshed": refreshed,
    }


@router.post("/api/v1/settings/{key}", tags=["settings"], summary="Change a cost setting (dba)")
def change(
    key: str,
    body: SettingChangeIn,
    request: Request,
    user: User = Depends(dba),
    conn: Connection = Depends(db),
) -> JSONResponse:
    """Audited change (who: the database role, plus the dashboard user in the reason).
    Session (cookie) callers send the page's CSRF token in ``X-CSRF-Token``."""
    check_csrf(user, request.headers.get(CSRF_HEADER))
    return ok(change_setting(conn, user, key, body.value, body.reason))


@router.get("/api/v1/whatif", tags=["model"], summary="What-if model")
def whatif_api(request: Request, user: User = Depends(reader)) -> JSONResponse:
    """Query: ``scenario``, ``price_<TIER>``, ``count_<TIER>``, ``vcpu_multiplier``.
    Per-tier cost and margin, the mix's cost/revenue/margin, hosting plan bills, and margin
    as the vCPU price varies — the same functions as ``tenantcost model``."""
    return ok(whatif.run(dict(request.query_params)))


@router.get("/api/v1/export/focus", tags=["export"], summary="FOCUS 1.2 cost export")
def focus_export(
    period: str | None = Query(None, description="Month YYYY-MM (UTC); default this month."),
    format: Format = Query("csv", description="csv (default) or json."),
    user: User = Depends(reader),
    conn: Connection = Depends(db),
) -> Response:
    """Costs in FOCUS 1.2 columns, tenant in ``x_TenantId``: the month's ledger lines
    (Usage), and the fixed VPS and IP costs per tenant (Purchase rows) from the BI rollups
    unless the ledger carries them, plus what no tenant is charged."""
    month = focus.parse_month(period, datetime.now(UTC))
    rows: list[dict[str, Any]] = []
    if data.relation_exists(conn, data.LEDGER):
        lines = conn.execute(
            data.sql("ledger_focus_lines"), {"month": month.start.strftime("%Y-%m")}
        ).fetchall()
        rows = [focus.ledger_row(line, month) for line in lines]
    if not any(r["ServiceName"] in ("Cloud VPS", "Dedicated IP") for r in rows):
        tenants = conn.execute(
            "SELECT tenant_id, company_name, infrastructure_costs, email_service_costs "
            "FROM executive_business_rollup ORDER BY company_name, tenant_id"
        ).fetchall()
        shared_rows = conn.execute(data.sql("shared_lines")).fetchall()
        rows += focus.fixed_rows(tenants, shared_rows, month)
    if format == "json":
        return ok({"columns": list(focus.FOCUS_COLUMNS), "rows": rows})
    return Response(
        csv_text(rows, focus.FOCUS_COLUMNS),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="focus-1.2.csv"'},
    )


@router.get("/api/v1/jobs", tags=["service"], summary="Scheduled jobs")
def jobs(request: Request, user: User = Depends(reader)) -> JSONResponse:
    """Each job's runs, errors, last success and last error; empty with ``--no-jobs``."""
    runner = context(request).runner
    return ok(
        {
            "running": runner is not None,
            "collector_configured": bool(runner and runner.collector_configured),
            "interval_seconds": runner.interval if runner else None,
            "jobs": runner.snapshot() if runner else {},
        }
    )
