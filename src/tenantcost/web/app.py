"""The dashboard's FastAPI application: wiring, authentication, errors and security headers.

``create_app(database_url)`` builds it; pages live in ``pages.py``, the JSON API in
``api.py``, and what both depend on (context, connection, user) in ``deps.py``, so the
imports run one way: app -> pages/api -> deps. Every route but ``/healthz`` needs a logged-in user or an API token.
"""

from __future__ import annotations

import gc
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantcost import __version__
from tenantcost.config import Settings, get_settings
from tenantcost.db.connect import redact
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.web import api, pages, reports_page
from tenantcost.web.admission import AdmissionGate
from tenantcost.web.auth import (
    CsrfRejected,
    Forbidden,
    NotAuthenticated,
    make_signer,
)
from tenantcost.web.cache import PageCache
from tenantcost.web.deps import (
    WebContext,
    is_api,
    page,
    templates,
)
from tenantcost.web.jobs import DEFAULT_INTERVAL, JobRunner
from tenantcost.web.throttle import Backoff, HashGate, LoginThrottle

log = logging.getLogger("tenantcost.web")
DATABASE_RETRY_AFTER = 5  # seconds, in 503 answers while the database is away
# Forms and JSON bodies here are a login or a setting change: a few hundred bytes. Larger
# bodies are refused (413) before they are read into memory.
MAX_BODY_BYTES = 64 * 1024

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)


def signing_secret(pool: ConnectionPool[Any]) -> str:
    """The cookie-signing key stored in the database (created by the first server)."""
    sql = queries("tenantcost.web")
    with pool.connection() as conn:
        conn.execute(sql["secret_init"], {"secret": secrets.token_urlsafe(48)})
        row = conn.execute(sql["secret_get"]).fetchone()
    assert row is not None
    return str(row["secret"])


#: Seconds since a connection was last given back under which it is used without a check.
RECENTLY_USED = 1.0


class PoolCheck:
    """The pool's connection check, skipped for a connection given back in good order less
    than ``RECENTLY_USED`` seconds ago (a round trip saved on most requests under load). A
    connection that broke in that second fails its request (503, like any request while the
    database is away) and is discarded when given back (psycopg_pool drops broken ones)."""

    def __init__(self, recent: float = RECENTLY_USED) -> None:
        self.recent = recent
        self._returned: dict[int, float] = {}  # id(connection) -> when it was given back

    def returned(self, conn: psycopg.Connection[Any]) -> None:
        if len(self._returned) > 1000:  # ids of connections closed while in the pool
            self._returned.clear()
        self._returned[id(conn)] = time.monotonic()

    def check(self, conn: psycopg.Connection[Any]) -> None:
        given_back = self._returned.pop(id(conn), None)
        if given_back is None or time.monotonic() - given_back >= self.recent:
            ConnectionPool.check_connection(conn)


class WebPool(ConnectionPool[Any]):
    """The request pool, with ``PoolCheck`` as its check: a connection given back is noted
    (overriding ``putconn``; a ``reset`` callback would send every return through the pool's
    worker thread)."""

    def __init__(self, recent: PoolCheck, *args: Any, **kwargs: Any) -> None:
        self.recent = recent
        super().__init__(*args, check=recent.check, **kwargs)

    def putconn(self, conn: Any) -> None:
        self.recent.returned(conn)
        super().putconn(conn)


def make_pool(database_url: str, max_size: int, settings: Settings | None = None) -> WebPool:
    """The request pool: a request waits at most ``web_db_timeout`` seconds for a connection
    (then 503), and a connection idle for more than ``RECENTLY_USED`` seconds is checked
    before use (``PoolCheck``), so a database that went away and came back costs no failed
    request."""
    settings = settings or get_settings()
    return WebPool(
        PoolCheck(),
        database_url,
        min_size=2,
        max_size=max_size,
        kwargs={
            "autocommit": True,
            "row_factory": dict_row,
            "options": "-c TimeZone=UTC -c application_name=tenantcost-web",
            "connect_timeout": settings.connect_timeout,
        },
        open=False,
        name="tenantcost-web",
        timeout=settings.web_db_timeout,
    )


def login_throttle(settings: Settings) -> LoginThrottle:
    cap = float(settings.login_lockout_max_seconds)
    return LoginThrottle(
        Backoff(settings.login_failures_per_account, cap=cap),
        Backoff(settings.login_failures_per_ip, cap=cap),
        clock=time.monotonic,
    )


def allowed_hosts(settings: Settings, extra: list[str] | None = None) -> list[str]:
    """The Host header allow-list: the setting's names plus ``extra`` (``serve --host``)."""
    names = [h.strip().lower() for h in settings.allowed_hosts.split(",") if h.strip()]
    for host in extra or []:
        if host in ("0.0.0.0", "::"):  # every address: only the setting's names count
            continue
        names.append(f"[{host}]" if ":" in host and not host.startswith("[") else host)
    return list(dict.fromkeys(names))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def _unauthenticated(request: Request, exc: NotAuthenticated) -> Response:
        if is_api(request):
            return JSONResponse(
                {"error": "authentication required", "hint": "log in or send a Bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="tenantcost"'},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        message = f"your role ({exc.user.role}) may not see or change this"
        if is_api(request):
            return JSONResponse({"error": message}, status_code=403)
        return page(request, "error.html", {"title": "Not allowed", "message": message}, 403)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, exc: CsrfRejected) -> Response:
        message = "the form's security token is missing or stale; reload the page and try again"
        if is_api(request):
            return JSONResponse({"error": message}, status_code=403)
        return page(request, "error.html", {"title": "Form expired", "message": message}, 403)

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError) -> Response:
        return bad_request(request, exc.message, exc.hint)

    @app.exception_handler(psycopg.DataError)
    async def _data_error(request: Request, exc: psycopg.DataError) -> Response:
        # a value PostgreSQL cannot take (e.g. out of range) that validation let through
        log.warning(
            "%s %s: the database rejected a value: %s",
            request.method,
            request.url.path,
            redact(str(exc)),
        )
        return bad_request(
            request, "a value in the request is out of range or not valid", "check the parameters"
        )

    @app.exception_handler(psycopg.OperationalError)
    async def _database_away(request: Request, exc: psycopg.OperationalError) -> Response:
        """The database is down, restarting or unreachable (psycopg_pool.PoolTimeout is an
        OperationalError): answer at once instead of letting requests pile up."""
        log.warning(
            "%s %s: database unavailable: %s",
            request.method,
            request.url.path,
            redact(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc),
        )
        message = "the database is unavailable right now"
        hint = "try again in a few seconds; if it lasts, check the PostgreSQL server"
        headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
        if is_api(request):
            return JSONResponse({"error": message, "hint": hint}, status_code=503, headers=headers)
        values = {"title": "Database unavailable", "message": message, "hint": hint}
        response = page(request, "error.html", values, 503)
        response.headers.update(headers)
        return response


def bad_request(request: Request, message: str, hint: str | None = None) -> Response:
    if is_api(request):
        return JSONResponse({"error": message, "hint": hint}, status_code=400)
    values = {"title": "Check the input", "message": message, "hint": hint}
    return page(request, "error.html", values, 400)


def has_nul(request: Request) -> bool:
    """NUL characters in the path or query: PostgreSQL text cannot hold them."""
    if "\x00" in request.url.path:
        return True
    return any("\x00" in k or "\x00" in v for k, v in request.query_params.multi_items())


SECURITY_HEADERS = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
)


class SecurityHeaders:
    """Every response gets ``SECURITY_HEADERS`` (unless it set one itself); a path or query
    with a NUL character gets 400 before any route. A plain ASGI middleware: Starlette's
    ``@app.middleware("http")`` costs a task group and a body stream per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        if has_nul(Request(scope)):
            response = JSONResponse(
                {"error": "the request's path or parameters contain a NUL character"},
                status_code=400,
            )
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def create_app(
    database_url: str,
    *,
    jobs: bool = False,
    interval: float = DEFAULT_INTERVAL,
    pool_size: int = 20,
    settings: Settings | None = None,
    hosts: list[str] | None = None,
) -> FastAPI:
    """The dashboard for the database at ``database_url`` (migrated to head).

    ``settings``: default ``get_settings()``; ``hosts``: addresses to accept in the Host
    header besides ``TENANTCOST_ALLOWED_HOSTS`` (the address ``serve`` listens on)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(database_url, pool_size, settings)
        pool.open(wait=True, timeout=30)
        runner = JobRunner.default(pool, interval) if jobs else None
        gate = HashGate(settings.login_hash_workers, settings.login_hash_queue)
        app.state.ctx = WebContext(
            pool,
            make_signer(signing_secret(pool)),
            templates(),
            runner,
            time.time(),
            settings,
            login_throttle(settings),
            gate,
            PageCache(settings.web_cache_mb * 1_000_000, settings.web_cache_entries),
        )
        # What is built by now lives as long as the server: kept out of the collector's full
        # passes (each one a pause for every request in flight), which then walk only what
        # requests and the page cache made since.
        gc.collect()
        gc.freeze()
        if runner is not None:
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            gate.close()
            pool.close()
            gc.unfreeze()

    app = FastAPI(
        title="tenantcost dashboard API",
        version=__version__,
        description=(
            "Internal per-tenant cost, revenue and margin (approximations for Finance and "
            "executives; never billing, never shown to tenants). Authenticate with "
            "`Authorization: Bearer <token>` (`tenantcost users token NAME`) or a dashboard "
            "session. Money is a decimal string."
        ),
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)

    # Innermost of the three: a request waits for a slot once its Host and path passed.
    app.add_middleware(AdmissionGate, slots=settings.web_active_requests)
    app.add_middleware(SecurityHeaders)
    # Outermost: a request for another Host name (DNS rebinding, a stray proxy) gets 400.
    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings, hosts), www_redirect=False
    )

    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(reports_page.router)
    return app
