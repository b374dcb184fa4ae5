"""The admission gate: a few requests at a time, the rest in arrival order."""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from tenantcost.web.admission import AdmissionGate, gated


def own_loop(test: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Run an async test on an event loop of its own, in a thread of its own: a browser test
    earlier in the same worker may leave its loop running in the main thread."""

    @functools.wraps(test)
    def run() -> None:
        failure: list[BaseException] = []

        def target() -> None:
            try:
                anyio.run(test)
            except BaseException as exc:  # handed to the test's thread
                failure.append(exc)

        thread = threading.Thread(target=target)
        thread.start()
        thread.join(30)
        assert not thread.is_alive(), "the test's event loop did not finish in 30 s"
        if failure:
            raise failure[0]

    return run


def http(path: str) -> dict[str, Any]:
    return {"type": "http", "path": path, "method": "GET"}


async def no_receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


class App:
    """Records when each request starts and ends its work; each waits for its own go."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.go: dict[str, anyio.Event] = {}
        self.running = 0
        self.most_running = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        name = scope["path"]
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        self.log.append(f"start {name}")
        await self.go.setdefault(name, anyio.Event()).wait()
        self.running -= 1
        self.log.append(f"end {name}")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def sent(message: dict[str, Any]) -> None:
    return None


@own_loop
async def test_requests_beyond_the_slots_wait_and_start_in_arrival_order() -> None:
    app = App()
    gate = AdmissionGate(app, slots=2)
    names = [f"/r{k}" for k in range(5)]
    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(gate, http(name), no_receive, sent)
            await anyio.sleep(0.01)  # arrive one after another
        assert app.log == ["start /r0", "start /r1"]
        assert gate.waiting == 3
        for name in names:  # let each finish in turn
            app.go.setdefault(name, anyio.Event()).set()
            await anyio.sleep(0.01)
    starts = [line for line in app.log if line.startswith("start")]
    assert starts == [f"start {n}" for n in names]  # first come, first served
    assert app.most_running == 2
    assert gate.waiting == 0


@own_loop
async def test_a_slot_is_free_once_the_response_starts() -> None:
    """A streamed download sends its start, then its long body, outside the gate."""
    body_may_end = anyio.Event()
    log: list[str] = []

    async def streaming(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/quick":
            log.append("quick ran")
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await body_may_end.wait()
        await send({"type": "http.response.body", "body": b"done"})

    gate = AdmissionGate(streaming, slots=1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(gate, http("/export"), no_receive, sent)
        await anyio.sleep(0.01)
        with anyio.fail_after(2):
            await gate(http("/quick"), no_receive, sent)  # not stuck behind the export's body
        assert log == ["quick ran"]
        body_may_end.set()


@own_loop
async def test_a_failing_request_gives_its_slot_back() -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    gate = AdmissionGate(failing, slots=1)
    for _ in range(3):  # with the slot lost, the second call would wait for ever
        with anyio.fail_after(2), pytest.raises(RuntimeError):
            await gate(http("/x"), no_receive, sent)


@own_loop
async def test_zero_slots_is_no_gate() -> None:
    app = App()
    gate = AdmissionGate(app, slots=0)
    async with anyio.create_task_group() as tg:
        for k in range(5):
            tg.start_soon(gate, http(f"/r{k}"), no_receive, sent)
        await anyio.sleep(0.05)
        assert app.running == 5
        for k in range(5):
            app.go.setdefault(f"/r{k}", anyio.Event()).set()


def test_health_checks_static_files_logins_and_requests_with_a_body_skip_the_gate() -> None:
    assert not gated("GET", "/healthz")
    assert not gated("GET", "/static/app.js")
    assert not gated("GET", "/login")
    assert not gated("POST", "/login")
    assert not gated("POST", "/settings/costs")  # a slow body must not hold a slot
    assert gated("GET", "/")
    assert gated("HEAD", "/")
    assert gated("GET", "/api/v1/tables/health")
    assert gated("GET", "/tenants/1")


@own_loop
async def test_a_post_trickling_its_body_in_does_not_hold_a_slot() -> None:
    body_arrives = anyio.Event()
    log: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # the form's body, as slow as the client sends it
        log.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def slow_receive() -> dict[str, Any]:
        await body_arrives.wait()
        return {"type": "http.request", "body": b"x=1"}

    gate = AdmissionGate(app, slots=1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(gate, {**http("/settings"), "method": "POST"}, slow_receive, sent)
        await anyio.sleep(0.01)
        with anyio.fail_after(2):
            await gate(http("/"), no_receive, sent)
        assert log == ["/"]
        body_arrives.set()
