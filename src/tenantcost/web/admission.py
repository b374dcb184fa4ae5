"""Requests are worked on a few at a time, the rest wait their turn in arrival order.

Under 100 users back to back every request used to start at once: each took a worker
thread for its login check and another for its page, queued behind newer arrivals at the
second hop, and the interpreter lock was shared among forty threads. The work was shared
out like a round robin, so a request's time depended on who came after it: the slowest
twentieth took twice the median (issue 15). With a gate of a few slots a request waits
once, in arrival order, and then runs with little competition: each waits about as long as
the requests ahead of it take, and no longer.

Only reads (GET, HEAD) wait: a request with a body would hold its slot while the client
sends it, however slowly. A slot is given back when the response starts (a page's work is done by then) or when
the app returns without answering, so a streamed download (FOCUS, CSV) does its long part
outside the gate. Static files and ``/healthz`` skip the gate: they do no work worth
queueing for, and a load balancer's health check must not wait behind users. ``/login``
skips it too: a password check waits for its own gate (``throttle.HashGate``, which turns
a flood away with 503), and a flood of logins holding every slot would starve the users
already logged in.
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNGATED_PREFIXES = ("/static/",)
UNGATED_PATHS = frozenset({"/healthz", "/login"})


GATED_METHODS = frozenset({"GET", "HEAD"})


def gated(method: str, path: str) -> bool:
    """(pure) Whether a request waits for a slot: reads only. A request with a body (a form,
    a setting) would hold its slot while a slow or hostile client trickles the body in, so
    four such clients could stall everyone; they are few and light, and pass."""
    return (
        method in GATED_METHODS
        and path not in UNGATED_PATHS
        and not path.startswith(UNGATED_PREFIXES)
    )


class AdmissionGate:
    """At most ``slots`` HTTP requests are worked on at once; the others wait first come,
    first served (``anyio.Semaphore`` wakes its waiters in order). ``slots`` 0: no gate."""

    def __init__(self, app: ASGIApp, slots: int) -> None:
        self.app = app
        self.slots = slots
        self._semaphore = anyio.Semaphore(slots, fast_acquire=True) if slots > 0 else None

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return 0 if self._semaphore is None else self._semaphore.statistics().tasks_waiting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        semaphore = self._semaphore
        if (
            semaphore is None
            or scope["type"] != "http"
            or not gated(scope["method"], scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        await semaphore.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                semaphore.release()

        async def send_then_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            await self.app(scope, receive, send_then_release)
        finally:
            release()
