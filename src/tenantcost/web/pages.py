"""Server-rendered pages (Jinja2): login, overview, health, allocation, tenant, settings, what-if.

Every page but /login needs a session; tables take ``sort``, ``order``, ``plan``, ``health``,
``page``, ``per_page`` and ``format=csv`` (``table=NAME`` picks which table of the page).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlencode, urlsplit
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.outbox.store import backlog_query
from tenantcost.report.reports import run_report
from tenantcost.web import data, labels, whatif
from tenantcost.web.api import change_setting
from tenantcost.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    User,
    check_csrf,
    end_session,
    password_login,
)
from tenantcost.web.deps import (
    STATIC,
    cached,
    cached_found,
    chosen_period,
    context,
    cookie_secure,
    current_user,
    db,
    dba,
    memo,
    reader,
)
from tenantcost.web.deps import page as render_page
from tenantcost.web.render import jsonable
from tenantcost.web.security import new_csrf_token, same
from tenantcost.web.throttle import Saturated, retry_after_header
from tenantcost.web.views import TABLE_PARAMS, csv_response, page_tables, wants_csv

router = APIRouter(include_in_schema=False)
log = logging.getLogger("tenantcost.web")

STATIC_FILES = {
    "app.js": "text/javascript",
    "vendor/chart.umd.min.js": "text/javascript",
    "vendor/chart.js-LICENSE.md": "text/plain",
}


def chart_json(payload: Any) -> str:
    """Data for app.js in a ``<script type="application/json">`` block (CSP-safe, escaped)."""
    return json.dumps(jsonable(payload)).replace("<", "\\u003c")


HELPERS = {
    "words": labels.words,
    "column_label": labels.column_label,
    "audit_label": labels.audit_label,
    "code_words": labels.code_words,
    "age_words": labels.age_words,
    "tier_fields": labels.TIER_FIELDS,
}


def page(
    request: Request, name: str, values: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A page with the label helpers every template uses (no snake_case for people)."""
    return render_page(request, name, {**HELPERS, **values}, status_code)


def content_html(request: Request, name: str, values: dict[str, Any]) -> str:
    """(user-independent) The ``content`` block of a page template, rendered on its own."""
    template = context(request).templates.get_template(name)
    scope = template.new_context({**HELPERS, "path": request.url.path, **values})
    return "".join(template.blocks["content"](scope))


def read_params(request: Request, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The query parameters a page reads, as its cache key: any other parameter (a typo, a
    cache-buster, a client making up keys to crowd out the cache) shows the same page and
    shares its entry."""
    return tuple((n, v) for n in names if (v := request.query_params.get(n)) is not None)


def cached_page(
    request: Request, conn: Connection, name: str, build: Callable[[], dict[str, Any]]
) -> HTMLResponse:
    """A page whose whole content depends only on the figures and the query string: its
    rendered content is cached until the figures' next refresh; the frame (who is logged in,
    the logout form's CSRF token) is rendered per request."""

    def render() -> tuple[str, str]:
        values = build()
        return str(values["title"]), content_html(request, name, values)

    key = ("page", name, read_params(request, (*TABLE_PARAMS, "table")))
    title, html = cached(request, conn, key, render)
    return page(request, "cached.html", {"title": title, "content": Markup(html)})


#: Where a page's live part goes in its cached content (never in data: PostgreSQL text holds
#: no NUL character).
LIVE = Markup("\x00live\x00")


def live_page(
    request: Request,
    conn: Connection,
    key: Hashable,
    name: str,
    build: Callable[[], dict[str, Any] | None],
    live_name: str,
    live: Callable[[], dict[str, Any]],
) -> HTMLResponse | None:
    """A page whose content is cached until the figures' next refresh except one live part
    (tier signals, the outbox: tier evaluation and deliveries write them between refreshes):
    the content is rendered with ``LIVE`` where the part goes, and the part (``live_name``
    with ``live()``'s values) is rendered into it per request; the frame too. None (nothing
    kept) when ``build`` finds nothing."""

    def render() -> tuple[str, str] | None:
        values = build()
        if values is None:
            return None
        return str(values["title"]), content_html(request, name, values)

    found = cached_found(request, conn, key, render)
    if found is None:
        return None
    title, html = found
    if LIVE in html:
        template = context(request).templates.get_template(live_name)
        part = template.render({**HELPERS, "path": request.url.path, **live()})
        html = html.replace(LIVE, part, 1)
    return page(request, "cached.html", {"title": title, "content": Markup(html)})


def safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return target if not parts.netloc and not parts.scheme else "/"


# ----------------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return login_form_again(request, {"next": safe_next(next)}, 200)


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    name: str = Form(...),
    password: str = Form(...),
    login_csrf: str = Form(""),
    next: str = Form("/"),
) -> Response:
    """Check a password without tying up the request threads: an address or account that
    failed too often waits (429), the check runs on the login thread (``HashGate``), and a
    full queue is turned away at once (503)."""
    target = safe_next(next)
    if not same(request.cookies.get(LOGIN_COOKIE), login_csrf):
        values = {"login_csrf": "", "next": target, "error": "the form expired; try again"}
        return login_form_again(request, values, 403)
    if "\x00" in name or "\x00" in password:
        values = {"next": target, "error": "the name or password contains a NUL character"}
        return login_form_again(request, values, 400)
    ctx = context(request)
    address = request.client.host if request.client else "unknown"
    wait = ctx.throttle.retry_after(address, name)
    if wait > 0:
        return login_refused(request, target, name, wait, 429)
    try:
        cookie = await ctx.gate.run(partial(password_login, ctx.pool, ctx.signer, name, password))
    except Saturated:
        return login_refused(request, target, name, 1.0, 503)
    if cookie is None:
        if (wait := ctx.throttle.failed(address, name)) > 0:
            log.warning(
                "failed logins: name %r from %s must now wait %s s", name[:80], address, wait
            )
        values = {"next": target, "error": "wrong name or password", "name": name}
        return login_form_again(request, values, 401)
    ctx.throttle.succeeded(name)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
        max_age=SESSION_SECONDS,
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


def login_refused(request: Request, target: str, name: str, wait: float, status: int) -> Response:
    """429 (too many failed logins) or 503 (too many logins at once), with Retry-After."""
    seconds = retry_after_header(wait)
    error = (
        f"too many failed logins; try again in {seconds} s"
        if status == 429
        else "the server is busy checking other logins; try again in a second"
    )
    response = login_form_again(request, {"next": target, "error": error, "name": name}, status)
    response.headers["Retry-After"] = seconds
    return response


def login_form_again(request: Request, values: dict[str, Any], status: int) -> Response:
    """The login page with a fresh login-form token (cookie and hidden field)."""
    token = new_csrf_token()
    response = page(
        request, "login.html", {"title": "Log in", **values, "login_csrf": token}, status
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
        max_age=3600,
    )
    return response


@router.post("/logout")
def logout(
    request: Request,
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
    conn: Connection = Depends(db),
) -> Response:
    check_csrf(user, csrf_token)
    end_session(conn, user)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# ----------------------------------------------------------------------------- static


@router.get("/static/{name:path}")
def static(name: str, user: User = Depends(reader)) -> Response:
    if name not in STATIC_FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        STATIC / name,
        media_type=STATIC_FILES[name],
        headers={"Cache-Control": "private, max-age=3600"},
    )


# ----------------------------------------------------------------------------- pages


def _period(request: Request, conn: Connection) -> str | None:
    return chosen_period(request, conn, request.query_params.get("period"))


def _money_values(values: list[Any]) -> list[Any]:
    return [round(v, 2) if v is not None else None for v in values]


def visible_slices(rows: list[dict[str, Any]], key: str = "amount") -> list[dict[str, Any]]:
    """(pure) The rows a money chart draws: none that shows as $0.00 (rounded half up)."""
    from decimal import ROUND_HALF_UP, Decimal

    cent = Decimal("0.01")
    return [r for r in rows if r[key] is not None and Decimal(r[key]).quantize(cent, ROUND_HALF_UP)]


def money_datasets(
    series: list[tuple[str, list[Any]]],
) -> list[dict[str, Any]]:
    """(pure) Chart datasets in cents, leaving out a series that is $0.00 throughout."""
    out = []
    for label, values in series:
        rounded = _money_values(values)
        if any(v for v in rounded):
            out.append({"label": label, "values": rounded})
    return out


@router.get("/", response_class=HTMLResponse)
def overview_page(
    request: Request, user: User = Depends(reader), conn: Connection = Depends(db)
) -> Response:
    period = _period(request, conn)

    def build() -> dict[str, Any] | None:
        figures = overview_figures(conn, period)
        return {**figures, "title": "Overview", "live": LIVE}

    def live() -> dict[str, Any]:
        # The live parts (tier signals, the outbox), read in one round trip.
        signals, (outbox,) = data.live_signals(conn, 10, backlog_query(datetime.now(UTC)))
        return {"o": {"tier_decisions": signals}, "outbox": [r for r in outbox if r["pending"]]}

    key = ("page", "overview.html", read_params(request, ("period",)))
    response = live_page(request, conn, key, "overview.html", build, "overview_live.html", live)
    assert response is not None  # the overview always renders (a note when no figures)
    return response


def overview_figures(conn: Connection, period: str | None) -> dict[str, Any]:
    """The overview's figures and charts (cached until the next refresh)."""
    overview = data.overview_figures(conn, period)
    drivers = visible_slices(overview.get("cost_drivers", []))
    chart = {
        "type": "doughnut",
        "labels": [d["driver"] for d in drivers],
        "values": _money_values([d["amount"] for d in drivers]),
        "label": "Cost",
        "unit": "$",
    }
    plans = overview.get("plans", [])
    plans_chart = {
        "type": "bar",
        "labels": [p["plan_name"] for p in plans],
        "datasets": [
            {"label": "Revenue", "values": _money_values([p["revenue"] for p in plans])},
            {"label": "Cost", "values": _money_values([p["cost"] for p in plans])},
        ],
        "unit": "$",
        "y_title": "USD per month",
    }
    return {
        "o": overview,
        "periods": data.periods(conn),
        "drivers_chart": chart_json(chart),
        "plans_chart": chart_json(plans_chart),
    }


#: What several pages (and every page of a table) show of a month, each kept once.
MONTH_PARTS: dict[str, Callable[[Connection, str | None], Any]] = {
    "health_counts": data.health_counts,
    "plans": data.plan_names,
    "freshness": data.freshness,
    "periods": lambda conn, _period: data.periods(conn),
}


def month_part(request: Request, conn: Connection, name: str, period: str | None) -> Any:
    """One of ``MONTH_PARTS``, cached until the next refresh on its own key: a page shown
    sorted or paged another way computes only its table, not these again."""
    return memo(request, conn)(
        data.month_key(name, period), partial(MONTH_PARTS[name], conn, period)
    )


def month_parts(request: Request, conn: Connection, period: str | None) -> dict[str, Any]:
    """The plans, freshness and months a table page's filters and header show."""
    return {
        name: month_part(request, conn, name, period) for name in ("plans", "freshness", "periods")
    }


@router.get("/health", response_class=HTMLResponse)
def health_page(
    request: Request, user: User = Depends(reader), conn: Connection = Depends(db)
) -> Response:
    names = ["health", "optimization"]
    period = _period(request, conn)
    if wants_csv(request):
        return csv_response(conn, request, names, period)

    def build() -> dict[str, Any]:
        counts = month_part(request, conn, "health_counts", period)
        chart = {
            "type": "bar",
            "labels": [c["business_health_status"] for c in counts],
            "datasets": [{"label": "Tenants", "values": [c["tenants"] for c in counts]}],
            "unit": "tenants",
            "y_title": "Tenants",
        }
        return {
            "title": "Executive health",
            "counts": counts,
            "tables": page_tables(conn, request, names, period, memo(request, conn)),
            "health_values": data.HEALTH_ORDER,
            "period": period,
            **month_parts(request, conn, period),
            "counts_chart": chart_json(chart),
        }

    return cached_page(request, conn, "health.html", build)


@router.get("/allocation", response_class=HTMLResponse)
def allocation_page(
    request: Request, user: User = Depends(reader), conn: Connection = Depends(db)
) -> Response:
    names = ["cost_by_plan", "cost_per_email"]
    period = _period(request, conn)
    if wants_csv(request):
        return csv_response(conn, request, names, period)
    return cached_page(request, conn, "allocation.html", partial(allocation, conn, request, period))


def allocation(conn: Connection, request: Request, period: str | None) -> dict[str, Any]:
    """The cost allocation page's figures, tables and chart (cached until the next refresh)."""
    names = ["cost_by_plan", "cost_per_email"]
    tables = page_tables(conn, request, names, period, memo(request, conn))
    by_plan = tables["cost_by_plan"].page.rows
    chart = {
        "type": "bar",
        "labels": [r["plan_name"] for r in by_plan],
        "datasets": [
            {
                "label": "Average VPS",
                "values": [r["avg_infrastructure_cost"] for r in by_plan],
            },
            {
                "label": "Average email service (IPs)",
                "values": [r["avg_email_service_cost"] for r in by_plan],
            },
            {"label": "Average usage", "values": [r["avg_usage_cost"] for r in by_plan]},
        ],
        "stacked": True,
        "unit": "$",
        "y_title": "USD per tenant-month",
    }
    return {
        "title": "Cost allocation",
        "tables": tables,
        "health_values": data.HEALTH_ORDER,
        "period": period,
        **month_parts(request, conn, period),
        "shared": run_report(conn, "shared", period, people=True) if period else [],
        "plan_chart": chart_json(chart),
    }


@router.get("/tenants/{tenant_id}", response_class=HTMLResponse)
def tenant_page(
    request: Request,
    tenant_id: str,
    user: User = Depends(reader),
    conn: Connection = Depends(db),
) -> Response:
    try:
        tid = data.require_tenant_id(tenant_id)
    except UserError:
        tid = None
    period = _period(request, conn)

    def build() -> dict[str, Any] | None:
        found = tenant_figures(conn, tid, period, memo(request, conn)) if tid else None
        return None if found is None else {**found, "live": LIVE}

    def live() -> dict[str, Any]:
        assert tid is not None  # found: an id
        return {"t": data.tenant_signals(conn, tid)}

    key = ("page", "tenant.html", tid, read_params(request, ("period",)))
    response = live_page(request, conn, key, "tenant.html", build, "tenant_live.html", live)
    if response is None:
        values = {"title": "No such tenant", "message": f"no company has id {tenant_id!r}"}
        return page(request, "error.html", values, 404)
    return response


def tenant_figures(
    conn: Connection,
    tid: UUID,
    period: str | None,
    memo: Callable[[Hashable, Callable[[], Any]], Any],
) -> dict[str, Any] | None:
    """The tenant page's figures and charts, one tenant's rows (cached until the next
    refresh); the period's freshness and the list of months kept once for every tenant."""
    detail = data.tenant_figures(conn, tid, period, memo)
    if detail is None:
        return None
    history = detail["history"]
    drivers = [
        ("compute_cost", "Compute"),
        ("memory_cost", "Memory"),
        ("storage_cost", "Storage"),
        ("network_cost", "Network"),
        ("vps_and_ips", "VPS and IPs"),
        ("addon_cost", "Add-ons"),
        ("platform_overhead_cost", "Overhead"),
    ]
    chart: dict[str, Any] = {
        "type": "bar",
        "stacked": True,
        "labels": [
            h["period"] + (" (provisional)" if h["status"] == "provisional" else "")
            for h in history
        ],
        "datasets": money_datasets([(label, [h[key] for h in history]) for key, label in drivers]),
        "unit": "$",
        "y_title": "USD per month",
    }
    monthly = detail["monthly"]
    emails_chart = {
        "type": "bar",
        "labels": [m["month"].strftime("%Y-%m") for m in monthly],
        "datasets": [{"label": "Emails sent", "values": [m["emails_sent"] for m in monthly]}],
        "unit": "emails",
        "y_title": "Emails",
    }
    return {
        "title": detail["company_name"],
        "t": detail,
        "periods": memo(("periods",), partial(data.periods, conn)),
        "cost_chart": chart_json(chart),
        "has_cost": bool(chart["datasets"]),
        "emails_chart": chart_json(emails_chart),
    }


@router.get("/settings", response_class=HTMLResponse)
def settings_page(
    request: Request, user: User = Depends(dba), conn: Connection = Depends(db)
) -> Response:
    return page(
        request,
        "settings.html",
        {
            "title": "Settings",
            "s": data.settings_page(conn),
            "saved": request.query_params.get("saved"),
        },
    )


def dba_form(csrf_token: str = Form(""), user: User = Depends(dba)) -> User:
    """A dba posting a settings form with the session's CSRF token (403 otherwise)."""
    check_csrf(user, csrf_token)
    return user


@router.post("/settings", response_class=HTMLResponse)
def settings_submit(
    request: Request,
    key: str = Form(...),
    value: str = Form(...),
    reason: str = Form(""),
    user: User = Depends(dba_form),
    conn: Connection = Depends(db),
) -> Response:
    try:
        change = change_setting(conn, user, key, value, reason)
    except UserError as exc:
        values = {"title": "Settings", "s": data.settings_page(conn), "error": exc}
        return page(request, "settings.html", values, 400)
    return RedirectResponse(f"/settings?saved={change['key']}", status_code=303)


@router.post("/settings/tiers/{name}", response_class=HTMLResponse)
def tier_submit(
    request: Request,
    name: str,
    monthly_price: str = Form(""),
    cost_ceiling: str = Form(""),
    storage_gb_ceiling: str = Form(""),
    requests_per_hour_ceiling: str = Form(""),
    latency_target_ms: str = Form(""),
    margin_floor_pct: str = Form(""),
    reason: str = Form(""),
    user: User = Depends(dba_form),
    conn: Connection = Depends(db),
) -> Response:
    """Change one tier's price and ceilings (dba, CSRF, reason required, audited)."""
    from tenantcost.web.tier_changes import change_tier

    form = {
        "monthly_price": monthly_price,
        "cost_ceiling": cost_ceiling,
        "storage_gb_ceiling": storage_gb_ceiling,
        "requests_per_hour_ceiling": requests_per_hour_ceiling,
        "latency_target_ms": latency_target_ms,
        "margin_floor_pct": margin_floor_pct,
    }
    result = change_tier(conn, user.name, name, form, reason)
    if result.errors:
        values = {
            "title": "Settings",
            "s": data.settings_page(conn),
            "tier_form": {"name": name, "form_values": result.values, "errors": result.errors},
            "reason": reason,
        }
        return page(request, "settings.html", values, 400)
    saved = f"tier {name}" if result.changes else f"tier {name} (nothing changed)"
    return RedirectResponse(f"/settings?{urlencode({'saved': saved})}#tier-{name}", 303)


def own_plan_replay(conn: Connection, params: dict[str, str]) -> dict[str, Any]:
    """The what-if page's "our own plans" part: a plan's measured months at a new price."""
    from tenantcost.tiers.store import list_tiers

    plans = data.replay_plans(conn)
    tiers = list_tiers(conn)
    prices = {t["name"]: t["monthly_price"] for t in tiers}
    plan, price, errors = whatif.parse_own(params, [p["plan_name"] for p in plans], prices)
    months = (
        whatif.replay_months(data.plan_history(conn, plan), price)
        if plan and price is not None
        else []
    )
    typed = {k: params.get(k, "") for k in ("own_plan", "own_price", "own_tier")}
    return {
        "plans": plans,
        "tiers": tiers,
        "plan": plan,
        "price": price,
        "months": months,
        "typed": typed,
        "errors": errors,
        "error": bool(errors),
    }


@router.get("/whatif", response_class=HTMLResponse)
def whatif_page(
    request: Request, user: User = Depends(reader), conn: Connection = Depends(db)
) -> Response:
    params = dict(request.query_params)
    form = whatif.parse_form(params)
    result = whatif.results(form.scenario, form.inputs)
    own = own_plan_replay(conn, params)
    tiers_chart = {
        "type": "bar",
        "labels": [line["tier"] for line in result["mix"]["lines"]],
        "datasets": [
            {"label": "Revenue", "values": [line["revenue"] for line in result["mix"]["lines"]]},
            {
                "label": "Usage cost",
                "values": [line["usage_cost"] for line in result["mix"]["lines"]],
            },
        ],
        "unit": "$",
        "y_title": "USD per month",
    }
    sweep_chart = {
        "type": "line",
        "labels": [f"{p['vcpu_price_change_pct']}%" for p in result["vcpu_sensitivity"]],
        "datasets": [
            {
                "label": "Gross margin",
                "values": [p["margin_pct"] for p in result["vcpu_sensitivity"]],
            }
        ],
        "unit": "%",
        "x_title": "vCPU price change",
        "y_title": "Gross margin (%)",
    }
    return page(
        request,
        "whatif.html",
        {
            "title": "What-if",
            "r": result,
            "form": form,
            "field_name": whatif.field_name,
            "defaulted_names": [whatif.field_name(k) for k in form.defaulted],
            "own": own,
            "tiers_chart": chart_json(tiers_chart),
            "sweep_chart": chart_json(sweep_chart),
        },
        400 if form.errors or own.get("error") else 200,
    )


def markdown(text: str) -> str:
    """Markdown (and the API docstrings' ``literal`` spans) as HTML; raw HTML is escaped."""
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(text.replace("``", "`"))
    # Wide tables scroll inside their own box (base.html's .scroll), never the page.
    return (
        str(html)
        .replace("<table>", '<div class="scroll"><table>')
        .replace("</table>", "</table></div>")
    )


@router.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request, user: User = Depends(reader)) -> Response:
    from importlib.resources import files

    spec = request.app.openapi()
    for ops in spec["paths"].values():
        for op in ops.values():
            op["description_html"] = markdown(op.get("description") or "")
    glossary = (files("tenantcost") / "glossary.md").read_text(encoding="utf-8")
    values = {
        "title": "API and glossary",
        "spec": spec,
        "description_html": markdown(spec["info"].get("description") or ""),
        "glossary_html": markdown(glossary),
    }
    return page(request, "docs.html", values)
