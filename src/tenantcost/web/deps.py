"""What every route depends on: the app's context, the request's connection, the user.

``pages.py`` and ``api.py`` take these as FastAPI dependencies; ``app.py`` builds the
context they read. Keeping them here lets the routers and the app import one way only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import Signer
from psycopg_pool import ConnectionPool

from tenantcost import __version__
from tenantcost.config import Settings
from tenantcost.db.connect import Connection
from tenantcost.web import render
from tenantcost.web.auth import NotAuthenticated, User, authenticate, require
from tenantcost.web.cache import Generation, PageCache, generation, generation_of, generation_sql
from tenantcost.web.jobs import JobRunner
from tenantcost.web.throttle import HashGate, LoginThrottle

T = TypeVar("T")
HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


@dataclass
class WebContext:
    pool: ConnectionPool[Any]
    signer: Signer
    templates: Jinja2Templates
    runner: JobRunner | None
    started: float
    settings: Settings
    throttle: LoginThrottle
    gate: HashGate
    cache: PageCache


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
    """The user, and the figures' generation read in the same round trip (a pipeline): a
    cached page then needs no other query (``figures_generation``)."""
    ctx = context(request)
    with ctx.pool.connection() as conn, conn.pipeline():
        fresh = conn.execute(generation_sql())  # sent; its row arrives with the user's
        user = authenticate(conn, ctx.signer, request)
        request.state.generation = generation_of(fresh.fetchone())
        return user


async def current_user(request: Request) -> User:
    """The logged-in user or token holder, with the figures' generation (one round trip on a
    pooled connection, in a worker thread)."""
    user = await run_in_threadpool(_authenticate, request)
    if user is None:
        raise NotAuthenticated()
    request.state.user = user
    return user


async def reader(user: User = Depends(current_user)) -> User:
    return require("read")(user)


async def dba(user: User = Depends(current_user)) -> User:
    return require("settings")(user)


def figures_generation(request: Request, conn: Connection) -> Generation:
    """The generation of the figures this request reads: read with the user
    (``current_user``), else here (one query, once per request)."""
    gen: Generation | None = getattr(request.state, "generation", None)
    if gen is None:
        gen = request.state.generation = generation(conn)
    return gen


def cached(request: Request, conn: Connection, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` as of the figures' last refresh: cached in this process until the next
    refresh or counted cost-input change (``tenantcost.web.cache``)."""
    return context(request).cache.get(figures_generation(request, conn), key, compute)


class _NotFound(Exception):
    """Raised through the cache so that "not found" is never kept."""


def cached_found(
    request: Request, conn: Connection, key: Hashable, compute: Callable[[], T | None]
) -> T | None:
    """``cached``, except that None (nothing found, e.g. no such tenant) is not kept: requests
    for made-up ids do not fill the cache."""

    def found() -> T:
        value = compute()
        if value is None:
            raise _NotFound
        return value

    try:
        return cached(request, conn, key, found)
    except _NotFound:
        return None


def memo(request: Request, conn: Connection) -> Callable[[Hashable, Callable[[], Any]], Any]:
    """``cached`` for this request, as the ``memo`` the table helpers take."""
    return partial(cached, request, conn)


def chosen_period(request: Request, conn: Connection, requested: str | None) -> str | None:
    """The month a page shows: ``?period=`` when given (validated), else the latest attributed
    month (read with the generation, no query of its own)."""
    from tenantcost.telemetry.timeutil import month_period

    if requested:
        return month_period(requested).key
    return figures_generation(request, conn).latest_period


def templates() -> Jinja2Templates:
    engine = Jinja2Templates(directory=str(TEMPLATES))
    engine.env.auto_reload = False  # the package's templates: no stat() per page
    engine.env.filters["money"] = render.fmt_money
    engine.env.filters["pct"] = render.fmt_pct
    engine.env.filters["cell"] = lambda value, column="": render.fmt_cell(column, value)
    engine.env.globals["version"] = __version__
    return engine


def cookie_secure(request: Request) -> bool:
    """Whether cookies get the Secure flag (``TENANTCOST_COOKIE_SECURE``): ``auto`` follows
    the request's scheme, which is https behind a TLS proxy trusted through
    ``TENANTCOST_FORWARDED_ALLOW_IPS``."""
    mode = context(request).settings.cookie_secure
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


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
