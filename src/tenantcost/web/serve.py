"""Running the dashboard: ``tenantcost serve``, the main job's ``serve_forever`` and a
background server for tests and benchmarks (``running_server``)."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from tenantcost.config import Settings, get_settings
from tenantcost.db.connect import connect, database_url, redact
from tenantcost.errors import UserError
from tenantcost.numbers import strict_int
from tenantcost.web.jobs import DEFAULT_INTERVAL

if TYPE_CHECKING:
    import uvicorn

LOOPBACK = ("127.0.0.1", "::1", "localhost")
DEMO_USER = "demo"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 picks a free one), or a UserError naming the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only then;
    # without it, keep-alive responses wait ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            "choose another port: --port N or TENANTCOST_PORT (`make run PORT=N`), "
            "or stop what is using it",
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def check_port_free(host: str, port: int) -> None:
    """Fail now, before any work, when ``host:port`` cannot be listened on (a bind that is
    closed at once; port 0 is always free)."""
    if port:
        bind(host, port).close()


def configured_port(port: int | None) -> int:
    """``--port`` when given, else the ``TENANTCOST_PORT`` setting."""
    if port is not None:
        return port
    from tenantcost.config import get_settings

    return get_settings().port


def server_for(
    url: str,
    *,
    jobs: bool,
    interval: float,
    log_level: str = "warning",
    settings: Settings | None = None,
    hosts: list[str] | None = None,
) -> uvicorn.Server:
    """The uvicorn server for the app. Proxy headers (X-Forwarded-For/-Proto) are read only
    from the addresses in TENANTCOST_FORWARDED_ALLOW_IPS; unset, never."""
    import uvicorn

    from tenantcost.web.app import create_app

    settings = settings or get_settings()
    app = create_app(url, jobs=jobs, interval=interval, settings=settings, hosts=hosts)
    proxies = settings.forwarded_allow_ips
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies if proxies else "",
        server_header=False,
    )
    return uvicorn.Server(config)


def serve_forever(
    url: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    banner: str = "",
    *,
    jobs: bool = True,
    interval: float = DEFAULT_INTERVAL,
    console: Console | None = None,
) -> None:
    """Serve the dashboard for ``url`` in the foreground until Ctrl-C, after printing
    ``banner`` and the address. The jobs schedule runs in the same process unless ``jobs``
    is False."""
    console = console or Console()
    try:
        sock = bind(host, port)
    except UserError:
        if banner:  # e.g. a login just set: never change a credential without showing it
            console.print(banner)
        raise
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if banner:
        console.print(banner)
    console.print(f"dashboard: http://{shown}:{bound}/  (Ctrl-C stops it)")
    if host not in LOOPBACK:
        console.print(
            "[yellow]warning: listening beyond this machine; the dashboard is internal — keep "
            "it behind your VPN or an authenticating proxy with TLS (TENANTCOST_FORWARDED_"
            "ALLOW_IPS); it answers only the host names in TENANTCOST_ALLOWED_HOSTS and "
            "the address it listens on[/]"
        )
    server = server_for(url, jobs=jobs, interval=interval, log_level="info", hosts=[host])
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running_server(
    url: str, *, jobs: bool = False, interval: float = 3600.0, settings: Settings | None = None
) -> Iterator[str]:
    """A real server on 127.0.0.1 (ephemeral port) in a thread; yields its base URL."""
    sock = bind("127.0.0.1", 0)
    server = server_for(url, jobs=jobs, interval=interval, settings=settings)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def ensure_demo_user(url: str) -> str:
    """The main job's dba user ``demo``, with a fresh random password each run (a demo
    login should never be lost, and the old one should not keep working)."""
    from tenantcost.db.connect import connect
    from tenantcost.web.users import add_user, set_password

    password = secrets.token_urlsafe(12)
    with connect(url) as conn:
        exists = conn.execute(
            "SELECT 1 FROM dashboard_users WHERE name = %(n)s", {"n": DEMO_USER}
        ).fetchone()
        if exists:
            set_password(conn, DEMO_USER, password)
        else:
            add_user(conn, DEMO_USER, "dba", password=password, token=False)
    return f"log in as {DEMO_USER} / {password}  (role dba; a new password is set on every run)"


def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (internal only)."),
    port: int | None = typer.Option(
        None,
        "--port",
        min=0,
        max=65535,
        help="TCP port (default: the TENANTCOST_PORT setting, 8000; 0: any free port).",
    ),
    no_jobs: bool = typer.Option(
        False, "--no-jobs", help="Serve only: do not run the collector/rollup schedule here."
    ),
    interval: int = typer.Option(
        DEFAULT_INTERVAL,
        "--interval",
        parser=strict_int("--interval", 10, 86400),
        help="Seconds between runs of the jobs (collect, evaluate tiers, drain the outbox, "
        "refresh rollups, snapshot): a whole number from 10 to 86400.",
    ),
) -> None:
    """Serve the internal dashboard and JSON API (log in with a `tenantcost users` account)."""

    url = database_url()
    connect(url).close()  # one clear (redacted) message now if the database is unreachable
    serve_forever(
        url,
        host,
        configured_port(port),
        banner=f"database {redact(url)}",
        jobs=not no_jobs,
        interval=interval,
    )
