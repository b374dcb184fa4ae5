"""The JSON API (``/api/v1``), ``/metrics``, ``/healthz`` and the OpenAPI document.

Field names are the BI views' column names; money is a decimal string. Tables answer
``format=csv`` with every filtered, sorted row.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.numbers import PLAIN_PATTERN
from tenantcost.outbox.store import backlog
from tenantcost.report.costs import period_quality, tenant_cost_rows
from tenantcost.report.reports import run_report
from tenantcost.report.rollup import resolve_month
from tenantcost.web import data, focus, metrics, whatif
from tenantcost.web.auth import CSRF_HEADER, User, check_csrf
from tenantcost.web.deps import cached, cached_found, chosen_period, context, db, dba, memo, reader
from tenantcost.web.render import jsonable
from tenantcost.web.tables import TABLES, fetch, parse_query
from tenantcost.web.views import streamed_csv, table_json

router = APIRouter()

MAX_PAGE = 1_000_000  # far beyond any fleet; keeps OFFSET within PostgreSQL's bigint
TableName = Literal["health", "optimization", "cost_by_plan", "cost_per_email"]
PERIOD = Query(None, description="UTC month YYYY-MM; default the latest attributed month.")
Format = Literal["json", "csv"]


def ok(payload: Any) -> JSONResponse:
    return JSONResponse(jsonable(payload))


@router.get("/healthz", tags=["service"], summary="Liveness (no authentication)")
def healthz(request: Request) -> JSONResponse:
    """``{"status": "ok"}`` when the server answers and the database does."""
    try:
        with context(request).pool.connection() as conn:  # waits web_db_timeout at most
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
    period = data.choose_period(conn, None)
    overview = conn.execute(data.sql("plan_breakdown"), {"period": period}).fetchall()
    fresh = data.freshness(conn, period)
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
        rollup_age_seconds=round(now - fresh["refreshed_at"].timestamp(), 3)
        if fresh["refreshed_at"]
        else None,
        now=now,
        outbox=backlog(conn, datetime.fromtimestamp(now, UTC)),
        cache=context(request).cache.stats.as_dict(),
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
def overview(
    request: Request,
    period: str | None = PERIOD,
    user: User = Depends(reader),
    conn: Connection = Depends(db),
) -> JSONResponse:
    """Totals (revenue, cost, margin), margin trend vs ~30 days ago, per-plan breakdown,
    cost drivers with shares, top cost tenants vs their plan's average, tier decisions."""
    month = chosen_period(request, conn, period)
    found = cached(
        request, conn, ("overview data", month), partial(data.overview_figures, conn, month)
    )
    if found["available"]:
        found = {**found, "tier_decisions": data.tier_signals(conn, 10)}
    return ok(found)


@router.get("/api/v1/health", tags=["pages"], summary="Health status counts")
def health(
    period: str | None = PERIOD, user: User = Depends(reader), conn: Connection = Depends(db)
) -> JSONResponse:
    """Tenants per business_health_status, and when the rollups were refreshed."""
    month = data.choose_period(conn, period)
    return ok({"counts": data.health_counts(conn, month), "freshness": data.freshness(conn, month)})


@router.get("/api/v1/tables/{name}", tags=["tables"], summary="A dashboard table")
def table(
    request: Request,
    name: TableName,
    sort: str | None = Query(None, description="Column to sort by (one of the table's columns)."),
    order: Literal["asc", "desc"] | None = Query(None, description="asc or desc."),
    plan: str | None = Query(None, description="Only tenants of this plan_name."),
    health: str | None = Query(None, description="Only this business_health_status."),
    page: int = Query(1, ge=1, le=MAX_PAGE, description="Page number, from 1."),
    per_page: int = Query(50, ge=1, le=500, description="Rows per page (at most 500)."),
    format: Format = Query("json", description="json (one page) or csv (every row)."),
    period: str | None = PERIOD,
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
    query = parse_query(spec, params, chosen_period(request, conn, period))
    if format == "csv":
        return streamed_csv(request, spec, query, name)
    return ok(table_json(fetch(conn, spec, query, memo=memo(request, conn))))


@router.get("/api/v1/shared", tags=["pages"], summary="Cost charged to no tenant")
def shared(
    period: str | None = PERIOD, user: User = Depends(reader), conn: Connection = Depends(db)
) -> JSONResponse:
    """shared_unallocated and no_active_subscription lines of the month (`report shared`)."""
    month = data.choose_period(conn, period)
    return ok({"period": month, "lines": run_report(conn, "shared", month) if month else []})


@router.get("/api/v1/tenant-costs", tags=["pages"], summary="Tenant costs")
def tenant_costs(
    period: str | None = PERIOD,
    top: int = Query(0, ge=0, le=100000, description="Only the N costliest tenants (0: all)."),
    user: User = Depends(reader),
    conn: Connection = Depends(db),
) -> JSONResponse:
    """`report tenant-costs`: per tenant cost by driver, share, revenue, profit; then the
    lines no tenant carries and the month's total; and the month's attribution quality."""
    month = resolve_month(conn, period)
    return ok(
        {
            "period": month,
            "quality": period_quality(conn, month),
            "rows": tenant_cost_rows(conn, month, top),
        }
    )


@router.get("/api/v1/tenants/{tenant_id}", tags=["pages"], summary="One tenant")
def tenant(
    request: Request,
    tenant_id: str,
    period: str | None = PERIOD,
    user: User = Depends(reader),
    conn: Connection = Depends(db),
) -> JSONResponse:
    """The tenant's summary row, VPS and IPs with cost source and override, their audit
    history, monthly payments and emails, and ledger cost by driver when collected.
    A malformed id is 400 ``{"error": …, "hint": …}``; an unknown one 404."""
    try:
        tid = data.require_tenant_id(tenant_id)
    except UserError as exc:
        return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=400)
    month = chosen_period(request, conn, period)
    found = cached_found(
        request, conn, ("tenant data", tid, month), partial(data.tenant_figures, conn, tid, month)
    )
    detail = None if found is None else {**found, **data.tenant_signals(conn, tid)}
    if detail is None:
        return JSONResponse(
            {"error": f"no company has id {tid}", "hint": "see /api/v1/tenant-costs for ids"},
            status_code=404,
        )
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


def _whatif_parameters() -> list[dict[str, Any]]:
    """The what-if query for the OpenAPI document (the handler reads it as a mapping)."""

    def param(name: str, description: str) -> dict[str, Any]:
        schema = {"type": "string", "pattern": PLAIN_PATTERN}
        return {
            "name": name,
            "in": "query",
            "required": False,
            "schema": schema,
            "description": description,
        }

    tiers = ("FREE", "STARTER", "PRO", "ENTERPRISE")
    return [
        {
            "name": "scenario",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "A shipped scenario (default seed-002).",
        },
        *(param(f"price_{t}", f"Monthly price of {t} (plain decimal).") for t in tiers),
        *(param(f"count_{t}", f"Tenants on {t} (whole number).") for t in tiers),
        param("vcpu_multiplier", "vCPU price multiplier, 1 = the price book's rate."),
    ]


@router.get(
    "/api/v1/whatif",
    tags=["model"],
    summary="What-if model",
    openapi_extra={"parameters": _whatif_parameters()},
)
def whatif_api(request: Request, user: User = Depends(reader)) -> JSONResponse:
    """Query: ``scenario``, ``price_<TIER>``, ``count_<TIER>``, ``vcpu_multiplier``.
    Per-tier cost and margin, the mix's cost/revenue/margin, hosting plan bills, and margin
    as the vCPU price varies — the same functions as ``tenantcost model``."""
    return ok(whatif.run(dict(request.query_params)))


@router.get("/api/v1/export/focus", tags=["export"], summary="FOCUS 1.3 cost export")
def focus_export(
    request: Request,
    period: str | None = PERIOD,
    format: Format = Query("csv", description="csv (default, streamed) or json."),
    user: User = Depends(reader),
    conn: Connection = Depends(db),
) -> Response:
    """The month's ledger in FOCUS 1.3 columns, one row per ledger line (tenant in
    ``x_TenantId``), with the allocation columns on rows split from a shared charge; a
    tenant's rows sum to its cost everywhere else."""
    from tenantcost.config import get_settings

    provider = get_settings().usage_provider.capitalize()
    month = resolve_month(conn, period, focus.default_period)
    info = focus.period_info(conn, month)
    pool = context(request).pool

    def streamed() -> Iterator[bytes]:
        with pool.connection() as own:
            yield from focus.export_chunks(own, month, info, provider, format)

    if format == "json":
        return StreamingResponse(streamed(), media_type="application/json")
    return StreamingResponse(
        streamed(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="focus-1.3-{month}.csv"'},
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
