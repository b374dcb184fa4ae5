"""Issue 13, web side, against real servers on 127.0.0.1 and the real PostgreSQL: login
backoff and flood, the database going away, bad parameters, Host and cookie rules, token
expiry, and that nothing but /healthz and the login form answers an anonymous client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from fastapi.routing import APIRoute

from tenantcost.config import Settings, load_settings
from tenantcost.web.app import create_app
from tenantcost.web.serve import running_server
from tenantcost.web.users import add_user, list_users
from tenantcost.web.whatif import field_name
from tests.e2e.webfleet import ACME, PASSWORDS, Fleet

pytestmark = pytest.mark.db


def settings(**overrides: Any) -> Settings:
    return load_settings(**overrides)


def login_post(c: httpx.Client, name: str, password: str) -> httpx.Response:
    """A login with a valid login-form token (any equal cookie/field pair is one)."""
    return c.post(
        "/login",
        data={"name": name, "password": password, "login_csrf": "t" * 20, "next": "/"},
        headers={"Cookie": "tc_login=" + "t" * 20},
    )


# ----------------------------------------------------------------------------- backoff


def test_an_account_waits_after_five_wrong_passwords(fleet: Fleet) -> None:
    with (
        running_server(fleet.url) as base,
        httpx.Client(base_url=base, timeout=30) as c,
    ):
        # failures 1-5 are checked (401); the 5th sets a 1 s wait (1 × 2^(5-5))
        for _ in range(5):
            assert login_post(c, "ana", "wrong password!").status_code == 401
        blocked = login_post(c, "ana", PASSWORDS["ana"])  # even the right one waits
        assert blocked.status_code == 429
        assert blocked.headers["retry-after"] == "1"
        assert "too many failed logins" in blocked.text
        assert login_post(c, "exec", PASSWORDS["exec"]).status_code == 303  # others go on
        time.sleep(1.1)
        assert login_post(c, "ana", "wrong password!").status_code == 401  # 6th: 2 s
        blocked = login_post(c, "ana", PASSWORDS["ana"])
        assert blocked.status_code == 429 and blocked.headers["retry-after"] == "2"
        time.sleep(2.1)
        assert login_post(c, "ana", PASSWORDS["ana"]).status_code == 303
        # the success cleared the account: a wrong password is checked again
        assert login_post(c, "ana", "wrong password!").status_code == 401


def test_an_address_waits_after_its_failures_across_names(fleet: Fleet) -> None:
    own = settings(login_failures_per_ip=3, login_failures_per_account=100)
    with (
        running_server(fleet.url, settings=own) as base,
        httpx.Client(base_url=base, timeout=30) as c,
    ):
        for name in ("nobody1", "nobody2", "nobody3"):  # the 3rd failure: 1 s wait
            assert login_post(c, name, "guess-guess").status_code == 401
        blocked = login_post(c, "dee", PASSWORDS["dee"])
        assert blocked.status_code == 429 and blocked.headers["retry-after"] == "1"


def server_process(url: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`tenantcost serve --port 0 --no-jobs` as its own process, and its base URL.

    Its banner names the database without the password."""
    password = psycopg.conninfo.conninfo_to_dict(url)["password"]
    assert isinstance(password, str) and password
    proc = subprocess.Popen(
        [sys.executable, "-m", "tenantcost", "serve", "--port", "0", "--no-jobs"],
        env={**os.environ, "TENANTCOST_DATABASE_URL": url, "COLUMNS": "200", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("database "):
            assert password not in line and ":***@" in line, line
        if match := re.search(r"http://127\.0\.0\.1:(\d+)/", line):
            base = f"http://127.0.0.1:{match[1]}"
            break
        if not line and proc.poll() is not None:
            raise RuntimeError("the server did not start")
    else:
        proc.kill()
        raise RuntimeError("the server did not print its address")
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not answer")


FLOOD_CLIENTS = 100
FLOOD_SECONDS = 8.0


async def flood(base: str, stop: threading.Event, statuses: list[int]) -> None:
    """FLOOD_CLIENTS anonymous clients posting wrong passwords back to back."""
    limits = httpx.Limits(max_connections=FLOOD_CLIENTS, max_keepalive_connections=FLOOD_CLIENTS)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as c:

        async def one(i: int) -> None:
            while not stop.is_set():
                response = await c.post(
                    "/login",
                    data={"name": f"user{i}", "password": "guess", "login_csrf": "x" * 20},
                    headers={"Cookie": "tc_login=" + "x" * 20},
                )
                statuses.append(response.status_code)

        await asyncio.gather(*(one(i) for i in range(FLOOD_CLIENTS)))


@pytest.mark.slow
def test_a_login_flood_leaves_logged_in_users_fast_and_memory_flat(fleet: Fleet) -> None:
    """100 concurrent bad logins for 8 s against a separate server process, with the
    address limit out of the way so the hashing gate alone protects the server; a
    logged-in user polls the overview meanwhile. Logged-in p95 < 1 s, RSS growth < 100 MB."""
    env = {
        "TENANTCOST_LOGIN_FAILURES_PER_IP": "100000",
        "TENANTCOST_LOGIN_FAILURES_PER_ACCOUNT": "1000",
    }
    proc, base = server_process(fleet.url, env)
    try:
        server = psutil.Process(proc.pid)
        with httpx.Client(base_url=base, timeout=30) as user:
            assert login_post(user, "ana", PASSWORDS["ana"]).status_code == 303
            user.cookies.delete("tc_login")
            for _ in range(5):  # warm up: templates, pool, one page of each kind
                assert user.get("/").status_code == 200
            with httpx.Client(base_url=base, timeout=30) as warm:
                assert login_post(warm, "x", "warm-up-pw").status_code == 401
            baseline = server.memory_info().rss
            stop, statuses = threading.Event(), []
            flooder = threading.Thread(target=lambda: asyncio.run(flood(base, stop, statuses)))
            flooder.start()
            latencies, peak = [], baseline
            deadline = time.monotonic() + FLOOD_SECONDS
            try:
                time.sleep(0.5)  # let the flood build up
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    response = user.get("/")
                    latencies.append(time.perf_counter() - started)
                    assert response.status_code == 200
                    peak = max(peak, server.memory_info().rss)
                    time.sleep(0.05)
            finally:
                stop.set()
                flooder.join(60)
        latencies.sort()
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        growth_mb = (peak - baseline) / 1e6
        print(
            f"flood: {len(statuses)} bad logins ({statuses.count(401)} checked, "
            f"{statuses.count(503)} turned away), "
            f"{len(latencies)} logged-in requests, p95 {p95 * 1000:.0f} ms, "
            f"RSS {baseline / 1e6:.0f} -> {peak / 1e6:.0f} MB"
        )
        assert len(statuses) >= FLOOD_CLIENTS  # the flood really ran
        assert set(statuses) <= {401, 503}, set(statuses)  # wrong, or turned away at once
        assert 503 in statuses  # the gate's queue filled and shed load
        assert len(latencies) >= 10
        assert p95 < 1.0
        assert growth_mb < 100
    finally:
        proc.terminate()
        proc.wait(15)
        assert proc.stdout is not None
        proc.stdout.close()


# ----------------------------------------------------------------------------- outage


class Proxy:
    """A TCP forwarder on 127.0.0.1 to the database, which a test can cut and restore."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """The database is gone: nothing listens, open connections are cut."""
        if self._listener is not None:
            # shutdown first: it wakes the thread blocked in accept(), close alone does not
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


def test_the_dashboard_answers_503_at_once_while_the_database_is_away(fleet: Fleet) -> None:
    port = int(psycopg.conninfo.conninfo_to_dict(fleet.url)["port"])  # type: ignore[arg-type]
    proxy = Proxy(port)
    proxy.start()
    via_proxy = re.sub(r"@127\.0\.0\.1:\d+/", f"@127.0.0.1:{proxy.port}/", fleet.url)
    token = {"Authorization": f"Bearer {fleet.tokens['ana']}"}
    try:
        with (
            running_server(via_proxy) as base,
            httpx.Client(base_url=base, timeout=30) as c,
        ):
            assert c.get("/api/v1/overview", headers=token).status_code == 200
            assert login_post(c, "ana", PASSWORDS["ana"]).status_code == 303
            proxy.stop()
            for path, headers in (("/api/v1/overview", token), ("/", {}), ("/healthz", {})):
                started = time.perf_counter()
                response = c.get(path, headers=headers)
                elapsed = time.perf_counter() - started
                assert response.status_code == 503, (path, response.text)
                assert elapsed < 2.0, (path, elapsed)  # web_db_timeout 1 s, not 30 s
                if path.startswith("/api/"):
                    assert response.json()["error"] == "the database is unavailable right now"
                    assert response.headers["retry-after"] == "5"
                elif path == "/":
                    assert "Database unavailable" in response.text
                    assert response.headers["content-type"].startswith("text/html")
            proxy.start()  # the database is back on the same port
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if c.get("/api/v1/overview", headers=token).status_code == 200:
                    break
                time.sleep(0.25)
            else:
                pytest.fail("the dashboard did not recover when the database came back")
            assert c.get("/").status_code == 200  # the session survived the outage
    finally:
        proxy.stop()


# ----------------------------------------------------------------------------- inputs

BAD_DECIMALS = ["1e999", "NaN", "-0", "1_000", "1e-400", "Infinity", "sNaN", "-1", "0x10"]


@pytest.fixture(scope="module")
def api(fleet: Fleet, base: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fleet.tokens['dee']}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def browser(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=30) as c:
        assert login_post(c, "dee", PASSWORDS["dee"]).status_code == 303
        yield c


@pytest.mark.parametrize("value", BAD_DECIMALS)
@pytest.mark.parametrize("field", ["price_PRO", "count_FREE", "vcpu_multiplier"])
def test_whatif_numbers_that_are_not_plain_decimals_are_400(
    api: httpx.Client, browser: httpx.Client, field: str, value: str
) -> None:
    # The strict parser's own words (tenantcost.numbers), naming the field.
    refusals = ("negative", "written as plain digits", "not a whole number")
    response = api.get("/api/v1/whatif", params={field: value})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert any(r in error for r in refusals) and field_name(field) in error, error
    page = browser.get("/whatif", params={field: value})
    assert page.status_code == 400 and any(r in page.text for r in refusals)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tables/health?plan=a%00b",
        "/api/v1/tables/health?sort=%00",
        "/api/v1/whatif?scenario=%00",
        "/api/v1/export/focus?period=2026-1%00",
        "/health?plan=%00",
        "/health?health=x%00",
        "/allocation?table=%00",
        "/whatif?price_PRO=1%00",
        "/tenants/%00",
        "/static/app%00.js",
        "/login?next=/%00",
    ],
)
def test_nul_characters_are_400(browser: httpx.Client, path: str) -> None:
    response = browser.get(path)
    assert response.status_code == 400, response.text
    assert "NUL" in response.text


def test_request_bodies_over_64_kib_are_413(fleet: Fleet, base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        assert login_post(c, "ana", "x" * (64 * 1024)).status_code == 413
        huge = c.post(
            "/api/v1/settings/smtp_ip_monthly_cost",
            json={"value": "5.49", "reason": "y" * (64 * 1024)},
            headers={"Authorization": f"Bearer {fleet.tokens['dee']}"},
        )
        assert huge.status_code == 413
        # a long but sane password is still checked (and wrong)
        assert login_post(c, "exec", "x" * 1000).status_code == 401


def test_nul_in_the_login_form_is_400(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        assert login_post(c, "ana\x00", "whatever-pw").status_code == 400
        assert login_post(c, "ana", "pass\x00word").status_code == 400


@pytest.mark.parametrize(
    ("page", "html_status"),
    [
        ("99999999999999999999", 400),  # beyond PostgreSQL's bigint OFFSET
        ("1" + "0" * 18, 400),  # × 50 rows per page: beyond bigint too
        ("10" * 3000, 400),  # beyond Python's int() digit limit
        ("1000001", 200),  # a page past the end: the page shows the last rows
    ],
)
def test_huge_page_numbers_are_4xx(
    api: httpx.Client, browser: httpx.Client, page: str, html_status: int
) -> None:
    response = api.get("/api/v1/tables/health", params={"page": page})
    assert response.status_code == 422, response.text  # page ≤ 1,000,000 (OpenAPI says so)
    html = browser.get("/health", params={"page": page})
    assert html.status_code == html_status, html.text[:300]


def test_a_page_number_beyond_the_rows_is_an_empty_page(api: httpx.Client) -> None:
    response = api.get("/api/v1/tables/health", params={"page": "1000000"})
    assert response.status_code == 200 and response.json()["rows"] == []


# ----------------------------------------------------------------------------- hosts, cookies


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1", 200),
        ("localhost", 200),
        ("LOCALHOST", 200),
        ("[::1]", 200),
        ("evil.example", 400),
        ("127.0.0.1.evil.example", 400),
        ("", 400),
    ],
)
def test_the_host_header_must_be_allowed(base: str, host: str, status: int) -> None:
    port = base.rsplit(":", 1)[1]
    header = f"{host}:{port}" if host else ""
    response = httpx.get(f"{base}/healthz", headers={"Host": header}, timeout=10)
    assert response.status_code == status


def test_allowed_hosts_setting_and_wildcards(fleet: Fleet) -> None:
    own = settings(allowed_hosts="dash.example.com,*.corp.example")
    with running_server(fleet.url, settings=own) as base:
        port = base.rsplit(":", 1)[1]
        for host, status in [
            ("dash.example.com", 200),
            ("a.corp.example", 200),
            ("127.0.0.1", 400),  # the setting replaces the default list
            ("corp.example.evil", 400),
        ]:
            response = httpx.get(f"{base}/healthz", headers={"Host": f"{host}:{port}"})
            assert response.status_code == status, host


def cookie_flags(response: httpx.Response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}="))


def test_cookies_are_secure_behind_a_trusted_tls_proxy(fleet: Fleet) -> None:
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    # not trusted (the default): the header is ignored, plain http → no Secure
    with running_server(fleet.url) as base, httpx.Client(base_url=base) as c:
        assert "Secure" not in cookie_flags(c.get("/login", headers=https), "tc_login")
    trusted = settings(forwarded_allow_ips="127.0.0.1")
    with running_server(fleet.url, settings=trusted) as base, httpx.Client(base_url=base) as c:
        assert "Secure" not in cookie_flags(c.get("/login"), "tc_login")  # plain http
        assert "Secure" in cookie_flags(c.get("/login", headers=https), "tc_login")
        ok = c.post(
            "/login",
            data={"name": "ana", "password": PASSWORDS["ana"], "login_csrf": "t" * 20},
            headers={**https, "Cookie": "tc_login=" + "t" * 20},
        )
        assert ok.status_code == 303 and "Secure" in cookie_flags(ok, "tc_session")
        # the forwarded client address is the one the login limits count
        for _ in range(20):
            login_post(c, "nobody", "wrong-password")  # from 127.0.0.1 itself
        assert login_post(c, "nobody", "wrong-password").status_code == 429
        other = c.post(
            "/login",
            data={"name": "ana", "password": PASSWORDS["ana"], "login_csrf": "t" * 20},
            headers={**https, "Cookie": "tc_login=" + "t" * 20},
        )
        assert other.status_code == 303  # 203.0.113.7 has no failures
    always = settings(cookie_secure="always")
    with running_server(fleet.url, settings=always) as base, httpx.Client(base_url=base) as c:
        assert "Secure" in cookie_flags(c.get("/login"), "tc_login")


# ----------------------------------------------------------------------------- tokens


def test_tokens_expire_and_record_their_last_use(fleet: Fleet, base: str) -> None:
    with psycopg.connect(fleet.url, row_factory=psycopg.rows.dict_row) as conn:
        user = add_user(
            conn, "shortlived", "analyst", password=None, token=True, expires_seconds=3600
        )
        row = conn.execute(
            "SELECT token_expires_at - now() AS left, token_last_used_at "
            "FROM dashboard_users WHERE name = 'shortlived'"
        ).fetchone()
        assert row is not None and row["token_last_used_at"] is None
        assert 3590 <= row["left"].total_seconds() <= 3600  # 1 hour, minus this test's time
    assert user.token
    headers = {"Authorization": f"Bearer {user.token}"}
    assert httpx.get(f"{base}/api/v1/me", headers=headers).status_code == 200
    with psycopg.connect(fleet.url, row_factory=psycopg.rows.dict_row) as conn:
        listed = {r["name"]: r for r in list_users(conn)}
        assert listed["shortlived"]["token_last_used_at"] is not None
        assert listed["shortlived"]["token_expires_at"] is not None
        conn.execute(
            "UPDATE dashboard_users SET token_expires_at = now() - interval '1 second' "
            "WHERE name = 'shortlived'"
        )
    assert httpx.get(f"{base}/api/v1/me", headers=headers).status_code == 401


def test_every_token_has_an_expiry(fleet: Fleet) -> None:
    with (
        psycopg.connect(fleet.url) as conn,
        pytest.raises(psycopg.errors.CheckViolation),
    ):
        conn.execute(
            "INSERT INTO dashboard_users (name, role, token_hash) VALUES ('x', 'analyst', 'h')"
        )


# ----------------------------------------------------------------------------- anonymous

ANONYMOUS = {("/healthz", "GET"), ("/login", "GET"), ("/login", "POST")}
SAMPLE_PATH_VALUES = {
    "tenant_id": str(ACME),
    "name": "health",
    "key": "smtp_ip_monthly_cost",
}


def api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute, also inside included routers (newer FastAPI keeps them wrapped)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif (router := getattr(route, "original_router", None)) is not None:
            context = getattr(route, "include_context", None)
            yield from api_routes(router.routes, prefix + getattr(context, "prefix", ""))


def app_routes() -> list[tuple[str, str]]:
    """Every (path, method) the application serves, with path parameters filled in."""
    app = create_app("postgresql://unused@127.0.0.1:1/none")
    routes = []
    for template, route in api_routes(app.routes):
        path = re.sub(
            r"\{(\w+)(?::path)?\}",
            lambda m: SAMPLE_PATH_VALUES.get(m[1], "app.js"),
            template,
        )
        routes += [(path, method) for method in sorted(route.methods or [])]
    return routes


def test_the_route_list_is_complete() -> None:
    routes = app_routes()
    assert len(routes) >= 25  # pages, API, exports, settings, login, logout, static
    assert {("/healthz", "GET"), ("/api/v1/settings/smtp_ip_monthly_cost", "POST")} <= set(routes)


@pytest.mark.parametrize(("path", "method"), app_routes())
def test_an_anonymous_client_gets_nothing(base: str, path: str, method: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        response = c.request(method, path)
        if (path, method) in ANONYMOUS:
            assert response.status_code in (200, 403, 422), (path, method)
            return
        api = path.startswith("/api/") or path in ("/metrics", "/openapi.json")
        if api:
            assert response.status_code == 401, (path, method, response.text)
            assert response.json()["error"] == "authentication required"  # and nothing else
        else:
            assert response.status_code == 303, (path, method, response.text)
            assert response.headers["location"].startswith("/login?next=")
            assert response.text == ""
