"""The dashboard's FastAPI application: wiring, authentication, errors and security headers.

``create_app(database_url)`` builds it; pages live in ``pages.py``, the JSON API in
``api.py``. Every route but ``/healthz`` needs a logged-in user or an API token.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import Signer
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from tenantcost import __version__
from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.web import render
from tenantcost.web.auth import (
    CsrfRejected,
    Forbidden,
    NotAuthenticated,
    User,
    authenticate,
    make_signer,
    require,
)
from tenantcost.web.jobs import JobRunner
from tenantcost.web.serve import DEFAULT_INTERVAL

log = logging.getLogger("tenantcost.web")
HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)


@dataclass
class WebContext:
    pool: ConnectionPool[Any]
    signer: Signer
    templates: Jinja2Templates
    runner: JobRunner | None
    started: float


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


class LazyConnection:
    """A pooled connection taken on first use, in the thread that uses it.

    Holding a connection while waiting for a worker thread deadlocks a thread pool whose
    threads wait for connections (seen at 100 concurrent users), so a request takes its
    connection only inside the thread that runs its handler, and gives it back right after.
    """

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool
        self._cm: Any = None
        self._conn: Connection | None = None

    def _get(self) -> Connection:
        if self._conn is None:
            self._cm = self._pool.connection()
            self._conn = self._cm.__enter__()
        return self._conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)

    def close(self) -> None:
        if self._cm is not None:
            cm, self._cm, self._conn = self._cm, None, None
            cm.__exit__(None, None, None)


async def db(request: Request) -> AsyncIterator[Connection]:
    """The request's connection (autocommit, dict rows, UTC), taken lazily; see LazyConnection."""
    handle = LazyConnection(context(request).pool)
    try:
        yield cast(Connection, handle)
    finally:
        handle.close()


def _authenticate(request: Request) -> User | None:
    ctx = context(request)
    with ctx.pool.connection() as conn:
        return authenticate(conn, ctx.signer, request)


async def current_user(request: Request) -> User:
    """The logged-in user or token holder (one short pooled query in a worker thread)."""
    user = await run_in_threadpool(_authenticate, request)
    if user is None:
        raise NotAuthenticated()
    request.state.user = user
    return user


async def reader(user: User = Depends(current_user)) -> User:
    return require("read")(user)


async def dba(user: User = Depends(current_user)) -> User:
    return require("settings")(user)


def signing_secret(pool: ConnectionPool[Any]) -> str:
    """The cookie-signing key stored in the database (created by the first server)."""
    sql = queries("tenantcost.web")
    with pool.connection() as conn:
        conn.execute(sql["secret_init"], {"secret": secrets.token_urlsafe(48)})
        row = conn.execute(sql["secret_get"]).fetchone()
    assert row is not None
    return str(row["secret"])


def make_pool(database_url: str, max_size: int) -> ConnectionPool[Any]:
    return ConnectionPool(
        database_url,
        min_size=2,
        max_size=max_size,
        kwargs={
            "autocommit": True,
            "row_factory": dict_row,
            "options": "-c TimeZone=UTC -c application_name=tenantcost-web",
        },
        open=False,
        name="tenantcost-web",
    )


def templates() -> Jinja2Templates:
    engine = Jinja2Templates(directory=str(TEMPLATES))
    engine.env.filters["money"] = render.fmt_money
    engine.env.filters["pct"] = render.fmt_pct
    engine.env.filters["cell"] = lambda value, column="": render.fmt_cell(column, value)
    engine.env.globals["version"] = __version__
    return engine


def is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path in ("/metrics", "/openapi.json")


def page(
    request: Request, name: str, values: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    return context(request).templates.TemplateResponse(
        request, name, {"user": user, "path": request.url.path, **values}, status_code=status_code
    )


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
        if is_api(request):
            return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=400)
        values = {"title": "Check the input", "message": exc.message, "hint": exc.hint}
        return page(request, "error.html", values, 400)


def create_app(
    database_url: str,
    *,
    jobs: bool = False,
    interval: float = DEFAULT_INTERVAL,
    pool_size: int = 20,
) -> FastAPI:
    """The dashboard for the database at ``database_url`` (migrated to head)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(database_url, pool_size)
        pool.open(wait=True, timeout=30)
        runner = JobRunner.default(pool, interval) if jobs else None
        app.state.ctx = WebContext(
            pool, make_signer(signing_secret(pool)), templates(), runner, time.time()
        )
        if runner is not None:
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            pool.close()

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
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    from tenantcost.web import api, pages

    app.include_router(pages.router)
    app.include_router(api.router)
    return app
