"""A fake Hostwinds Cloud API: a real HTTP server on 127.0.0.1 for tests and the demo.

    with FakeHostwinds(services=[FakeService("1001", plan_id="uvps-1")]) as fake:
        client = HostwindsClient(fake.url, fake.api_key, backoff_base=0.01)
        fake.fail_next(2, status=429)     # the next two requests get HTTP 429
        fake.set_delay(3.0, count=1)      # the next request answers after 3 s
        fake.malformed_next(1)            # the next request gets a body that is not JSON
        fake.fail_after(3, 100)           # 3 requests succeed, then 100 get HTTP 500
        fake.request_count                # requests seen (including failed ones)

It speaks the shapes of :mod:`tenantcost.providers.hostwinds_api` (second-hand, see there):
form-encoded POST, ``action`` + ``API`` key, errors as HTTP 200 ``result: "error"``.
Behaviour that is the fake's own choice (not known from Hostwinds):

* ``upgrade_instance`` replaces a pending order of the same service (real Hostwinds allows
  one order at a time and may refuse instead);
* custom configurations cost per month: 4.00 per CPU core, 2.50 per GB RAM, 0.10 per GB disk,
  1.00 per TB bandwidth, less a discount per cycle (quarterly 0 %, semiannually 5 %,
  annually 10 %, biennially 15 %, triennially 20 %), rounded half up to cents per cycle;
* ``check_upgrade_order`` without a pending order answers ``result: "error"``.

Manual use: ``python -m tenantcost.providers.fake_hostwinds --port 8765 --api-key demo-key``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from tenantcost.providers import hostwinds_api as api

CYCLES = api.CYCLE_FIELDS
_CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "semiannually": 6, "annually": 12}
_CYCLE_MONTHS |= {"biennially": 24, "triennially": 36}
_CUSTOM_DISCOUNT = {
    "monthly": Decimal("0"),
    "quarterly": Decimal("0"),
    "semiannually": Decimal("0.05"),
    "annually": Decimal("0.10"),
    "biennially": Decimal("0.15"),
    "triennially": Decimal("0.20"),
}
_CUSTOM_RATES = {  # USD per unit per month
    "cpu": Decimal("4.00"),
    "ram": Decimal("2.50"),
    "disk": Decimal("0.10"),
    "bandwidth": Decimal("1.00"),
}
CUSTOM_RID = "custom-linux"


@dataclass
class FakePlan:
    """A fixed plan: specs and one price string per billing cycle ("-1.00" = not offered)."""

    id: str
    name: str
    cpu: int
    ram_gb: int
    disk_gb: int
    bandwidth_tb: int
    prices: dict[str, str]
    rid: str = ""

    def as_json(self, current: bool, sort: int) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "ram": f"{self.ram_gb} GB",
            "cpu": str(self.cpu),
            "disk": f"{self.disk_gb} GB",
            "bandwidth": f"{self.bandwidth_tb} TB",
            **{c: self.prices.get(c, "-1.00") for c in CYCLES},
            "rid": self.rid or f"r-{self.id}",
            "mtotal": self.prices.get("monthly", "-1.00"),
            "promo": "0",
            "percent": "0",
            "cycles": ",".join(c for c in CYCLES if not self.prices.get(c, "-1").startswith("-")),
            "firsts": "0",
            "current": "1" if current else "0",
            "mysort": str(sort),
            "resource": "vps",
        }


def default_plans() -> list[FakePlan]:
    """Unmanaged Linux VPS plans; longer cycles are discounted.

    uvps-1 is PenguinMails' planning baseline: 1 CPU / 2 GB / 50 GB / 2 TB at 9.99 per month.
    """

    def plan(pid: str, cpu: int, ram: int, disk: int, bw: int, *prices: str) -> FakePlan:
        name = f"Unmanaged Linux VPS {cpu} CPU / {ram} GB / {disk} GB / {bw} TB"
        return FakePlan(pid, name, cpu, ram, disk, bw, dict(zip(CYCLES, prices, strict=True)))

    return [
        plan("uvps-1", 1, 2, 50, 2, "9.99", "28.47", "53.95", "107.88", "203.76", "299.64"),
        plan("uvps-2", 2, 4, 75, 3, "18.99", "54.12", "102.54", "193.68", "364.56", "512.64"),
        plan("uvps-4", 4, 8, 150, 4, "37.99", "108.27", "205.14", "387.48", "729.36", "1025.64"),
        plan("uvps-8", 8, 16, 300, 6, "74.99", "213.72", "404.94", "764.88", "1439.76", "2024.64"),
    ]


@dataclass
class FakeService:
    """A Hostwinds service (VPS) in the fake account.

    ``prices`` overrides the billing-cycle prices of this one service (e.g. a promotion);
    ``config`` makes it a custom configuration (keys cpu, ram, disk, bandwidth).
    """

    serviceid: str
    plan_id: str | None = "uvps-1"
    billing_cycle: str = "monthly"
    prices: dict[str, str] | None = None
    config: dict[str, Any] | None = None


def custom_price(config: Mapping[str, Any], cycle: str) -> Decimal:
    """What the fake charges per ``cycle`` for a custom configuration (see module docstring)."""
    monthly = sum(
        (_CUSTOM_RATES[k] * Decimal(str(config.get(k) or 0)) for k in _CUSTOM_RATES), Decimal(0)
    )
    total = monthly * _CYCLE_MONTHS[cycle] * (1 - _CUSTOM_DISCOUNT[cycle])
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class _Faults:
    fail_count: int = 0
    fail_status: int = 500
    retry_after: float | None = None
    malformed_count: int = 0
    delay: float = 0.0
    delay_count: int | None = None  # None = every request while delay > 0
    error_count: int = 0
    error_message: str = "Temporary failure"
    # fail_after: this many requests succeed, then fail_count := pending_fail_count
    ok_before_failing: int | None = None
    pending_fail_count: int = 0


@dataclass
class _State:
    plans: dict[str, FakePlan]
    services: dict[str, FakeService]
    api_key: str
    faults: _Faults = field(default_factory=_Faults)
    orders: dict[str, dict[str, str]] = field(default_factory=dict)
    calls: list[dict[str, str]] = field(default_factory=list)
    next_invoice: int = 70001


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeHostwinds

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) is expected; stay quiet about it."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def do_GET(self) -> None:
        self._send(405, b'{"result": "error", "message": "use POST"}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        status, body, headers = self.server.fake.handle(form)
        self._send(status, body, headers)

    def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class FakeHostwinds:
    """The fake API server. Thread-safe; start/stop it with ``with``."""

    def __init__(
        self,
        plans: Iterable[FakePlan] | None = None,
        services: Iterable[FakeService] | None = None,
        *,
        api_key: str = "fake-hostwinds-key",
        port: int = 0,
    ) -> None:
        plan_list = list(plans) if plans is not None else default_plans()
        self._state = _State(
            plans={p.id: p for p in plan_list},
            services={s.serviceid: s for s in services or []},
            api_key=api_key,
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeHostwinds:
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeHostwinds:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeHostwinds is not running; use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cloud/api.php"

    @property
    def api_key(self) -> str:
        return self._state.api_key

    # ------------------------------------------------------------ test controls

    def fail_next(self, count: int, status: int = 500, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests with HTTP ``status`` (e.g. 429, 500, 503)."""
        with self._lock:
            f = self._state.faults
            f.fail_count, f.fail_status, f.retry_after = count, status, retry_after

    def fail_after(self, ok: int, count: int, status: int = 500) -> None:
        """Let the next ``ok`` requests through, then answer ``count`` with HTTP ``status``:
        an outage that starts part-way through a sync."""
        with self._lock:
            f = self._state.faults
            f.ok_before_failing, f.pending_fail_count, f.fail_status = ok, count, status
            f.retry_after = None

    def malformed_next(self, count: int = 1) -> None:
        """Answer the next ``count`` requests with HTTP 200 and a body that is not JSON."""
        with self._lock:
            self._state.faults.malformed_count = count

    def error_next(self, count: int = 1, message: str = "Temporary failure") -> None:
        """Answer the next ``count`` requests with HTTP 200 ``result: "error"``."""
        with self._lock:
            f = self._state.faults
            f.error_count, f.error_message = count, message

    def set_delay(self, seconds: float, count: int | None = None) -> None:
        """Answer after ``seconds``: the next ``count`` requests, or all (None) until reset."""
        with self._lock:
            f = self._state.faults
            f.delay, f.delay_count = seconds, count

    def reset_faults(self) -> None:
        with self._lock:
            self._state.faults = _Faults()

    def set_price(self, plan_id: str, cycle: str, price: str) -> None:
        """Change a plan's price for one cycle (a Hostwinds price change)."""
        with self._lock:
            self._state.plans[plan_id].prices[cycle] = price

    def add_service(self, service: FakeService) -> None:
        with self._lock:
            self._state.services[service.serviceid] = service

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._state.calls)

    @property
    def calls(self) -> list[dict[str, str]]:
        """Every request's form fields except the API key, oldest first."""
        with self._lock:
            return [dict(c) for c in self._state.calls]

    def count(self, action: str) -> int:
        with self._lock:
            return sum(1 for c in self._state.calls if c.get(api.ACTION_FIELD) == action)

    @property
    def orders(self) -> dict[str, dict[str, str]]:
        with self._lock:
            return {k: dict(v) for k, v in self._state.orders.items()}

    # ------------------------------------------------------------ request handling

    def handle(self, form: Mapping[str, str]) -> tuple[int, bytes, dict[str, str]]:
        """One request -> (HTTP status, body, extra headers)."""
        status, body = self._answer(form)
        headers: dict[str, str] = {}
        if isinstance(status, tuple):
            status, retry_after = status
            headers["Retry-After"] = f"{retry_after:g}"
        return status, body, headers

    def _answer(self, form: Mapping[str, str]) -> tuple[int | tuple[int, float], bytes]:
        """One request: faults first (like a flaky network), then the key, then the action."""
        with self._lock:
            state = self._state
            state.calls.append({k: v for k, v in form.items() if k != api.KEY_FIELD})
            f = state.faults
            delay = f.delay
            if f.delay_count is not None:
                if f.delay_count > 0:
                    f.delay_count -= 1
                else:
                    delay = 0.0
        if delay > 0:
            self._stop.wait(delay)
        with self._lock:
            f = state.faults
            if f.ok_before_failing is not None:
                if f.ok_before_failing > 0:
                    f.ok_before_failing -= 1
                else:
                    f.ok_before_failing = None
                    f.fail_count = f.pending_fail_count
            if f.fail_count > 0:
                f.fail_count -= 1
                body = json.dumps({"error": "Service Unavailable"}).encode()
                if f.retry_after is not None:
                    return (f.fail_status, f.retry_after), body
                return f.fail_status, body
            if f.malformed_count > 0:
                f.malformed_count -= 1
                return 200, b'{"success": {"uvps-1": {"id": "uvps-1", "monthly": "9.'
            if f.error_count > 0:
                f.error_count -= 1
                return _error(f.error_message)
            if form.get(api.KEY_FIELD) != state.api_key:
                return _error("Invalid API Key", "AUTH")
            action = form.get(api.ACTION_FIELD, "")
            try:
                if action == api.GET_PRICE_LIST:
                    return _ok(self._price_list(form))
                if action == api.GET_BILLINGCYCLE_PRICES:
                    return _ok(self._billingcycle_prices(form))
                if action == api.UPGRADE_INSTANCE:
                    return 200, json.dumps(self._upgrade(form)).encode()
                if action == api.CHECK_UPGRADE_ORDER:
                    return _ok(self._check_order(form))
            except _FakeRefusal as refusal:
                return _error(str(refusal))
            return _error(f"Unknown action {action!r}")

    def _service(self, form: Mapping[str, str]) -> FakeService:
        sid = form.get("serviceid", "")
        service = self._state.services.get(sid)
        if service is None:
            raise _FakeRefusal(f"Invalid serviceid {sid!r}")
        return service

    def _price_list(self, form: Mapping[str, str]) -> dict[str, Any]:
        current = self._service(form).plan_id if form.get("serviceid") else None
        return {
            p.id: p.as_json(p.id == current, n) for n, p in enumerate(self._state.plans.values(), 1)
        }

    def _cycle_prices(self, service: FakeService) -> dict[str, str]:
        if service.prices is not None:
            return dict(service.prices)
        if service.config:
            return {c: str(custom_price(service.config, c)) for c in CYCLES}
        plan = self._state.plans.get(service.plan_id or "")
        if plan is None:
            raise _FakeRefusal(f"No pricing for service {service.serviceid}")
        return dict(plan.prices)

    def _billingcycle_prices(self, form: Mapping[str, str]) -> dict[str, Any]:
        service = self._service(form)
        return {
            cycle: {"price": price, "duedate": "2026-12-19"}
            for cycle, price in self._cycle_prices(service).items()
            if not price.startswith("-")
        }

    def _upgrade(self, form: Mapping[str, str]) -> list[dict[str, str]]:
        service = self._service(form)
        rid = form.get("rid", "")
        if not rid:
            raise _FakeRefusal("rid is required")
        config = {k: form[k] for k in ("cpu", "ram", "disk", "bandwidth") if form.get(k)}
        if config:
            total = custom_price(config, service.billing_cycle)
        else:
            plan = next((p for p in self._state.plans.values() if p.rid == rid), None)
            if plan is None:
                raise _FakeRefusal(f"Invalid rid {rid!r}")
            total = Decimal(plan.prices[service.billing_cycle])
        invoice = str(self._state.next_invoice)
        self._state.next_invoice += 1
        self._state.orders[service.serviceid] = {
            "invoiceid": invoice,
            "duedate": "2026-12-19",
            "total": str(total),
        }
        return [
            {
                "result": "success",
                "action": "Upgrade Instance",
                "message": f"Upgrade order created, invoice #{invoice}",
            }
        ]

    def _check_order(self, form: Mapping[str, str]) -> dict[str, str]:
        service = self._service(form)
        order = self._state.orders.get(service.serviceid)
        if order is None:
            raise _FakeRefusal("No pending upgrade order")
        return dict(order)


class _FakeRefusal(Exception):
    """The fake answers this as HTTP 200 result=error."""


def _ok(payload: Any) -> tuple[int, bytes]:
    return 200, json.dumps({"success": payload}).encode()


def _error(message: str, code: str | None = None) -> tuple[int, bytes]:
    body: dict[str, str] = {"result": "error", "message": message}
    if code:
        body["ERROR"] = code
    return 200, json.dumps(body).encode()


def demo_services() -> list[FakeService]:
    """A small account for manual use: plans on several cycles and one custom configuration."""
    return [
        FakeService("1001", "uvps-1", "monthly"),
        FakeService("1002", "uvps-2", "annually"),
        FakeService("1003", "uvps-4", "triennially"),
        FakeService("1004", None, "quarterly", config={"cpu": 2, "ram": 6, "disk": 100}),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Hostwinds Cloud API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = pick a free one).")
    parser.add_argument("--api-key", default="fake-hostwinds-key", help="Key clients must send.")
    args = parser.parse_args(argv)
    fake = FakeHostwinds(services=demo_services(), api_key=args.api_key, port=args.port)
    with fake:
        print(f"fake Hostwinds API at {fake.url} (key: the --api-key value); Ctrl-C stops it")
        print(f"  TENANTCOST_HOSTWINDS_API_URL={fake.url}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
