"""``collect --every`` waits out a database outage (issue 13 item 10): injected errors."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from tenantcost.db.connect import explain_connect_error
from tenantcost.errors import UserError
from tenantcost.telemetry.cli import database_unavailable, run_every


class FakeConn:
    def __init__(self, n: int) -> None:
        self.n = n
        self.closed = False

    def close(self) -> None:
        self.closed = True


URL = "postgresql://tc:secret@127.0.0.1:5432/tc"


def refused_error() -> UserError:
    """What connect() raises when nothing listens (libpq's words)."""
    message = 'connection to server at "127.0.0.1", port 5432 failed: Connection refused'
    return explain_connect_error(URL, psycopg.OperationalError(message))


class Script:
    """Pass outcomes in order: 'ok', 'down' (OperationalError), 'refused' (connect fails)."""

    def __init__(self, outcomes: list[str], stop: threading.Event, stop_after_ok: int) -> None:
        self.outcomes = outcomes
        self.stop = stop
        self.stop_after_ok = stop_after_ok
        self.opened: list[FakeConn] = []
        self.ok = 0
        self.log: list[str] = []

    def open(self) -> Any:
        if self.outcomes and self.outcomes[0] == "refused":
            self.outcomes.pop(0)
            raise refused_error()
        conn = FakeConn(len(self.opened))
        self.opened.append(conn)
        return conn

    def one_pass(self, conn: Any, collector: Any) -> None:
        assert collector == ("collector for", conn.n)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if outcome == "down":
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        if outcome == "boom":
            raise ValueError("a bug, not an outage")
        self.ok += 1
        if self.ok >= self.stop_after_ok:
            self.stop.set()


def run(script: Script, stop: threading.Event) -> int:
    return run_every(
        0.0,
        stop,
        script.open,
        script.one_pass,
        lambda conn: ("collector for", conn.n),
        script.log.append,
        backoff_base=0.001,
        backoff_max=0.01,
    )


def test_an_outage_is_retried_on_a_new_connection_and_logged_once() -> None:
    stop = threading.Event()
    script = Script(["ok", "down", "refused", "refused", "ok", "ok"], stop, stop_after_ok=3)
    assert run(script, stop) == 3
    # opened: the first, then after 'down' two refused attempts, then one that works
    assert len(script.opened) == 2 and script.opened[0].closed
    started = [line for line in script.log if line.startswith("database unavailable")]
    ended = [line for line in script.log if line.startswith("database back")]
    assert len(started) == 1 and "server closed the connection" in started[0]
    assert len(ended) == 1 and "(3 failed attempts)" in ended[0]


def test_each_outage_is_logged_once() -> None:
    stop = threading.Event()
    script = Script(["down", "down", "ok", "down", "ok"], stop, stop_after_ok=2)
    assert run(script, stop) == 2
    assert [line.split(" ")[1] for line in script.log] == [
        "unavailable",
        "back",
        "unavailable",
        "back",
    ]


def test_stop_during_an_outage_ends_the_loop_quietly() -> None:
    stop = threading.Event()
    script = Script([], stop, stop_after_ok=99)

    def always_down(conn: Any, collector: Any) -> None:
        stop.set()  # SIGTERM arrives while the database is away
        raise psycopg.OperationalError("the database system is shutting down")

    script.one_pass = always_down  # type: ignore[method-assign]
    assert run(script, stop) == 0
    assert script.opened[-1].closed


def test_other_errors_still_end_the_loop() -> None:
    stop = threading.Event()
    script = Script(["ok", "boom"], stop, stop_after_ok=99)
    with pytest.raises(ValueError, match="a bug"):
        run(script, stop)


def test_what_counts_as_an_outage() -> None:
    assert database_unavailable(psycopg.OperationalError("x"))
    assert database_unavailable(psycopg.InterfaceError("the connection is closed"))
    assert database_unavailable(refused_error())
    starting = psycopg.OperationalError("FATAL:  the database system is starting up")
    assert database_unavailable(explain_connect_error(URL, starting))
    wrong = psycopg.OperationalError('FATAL:  password authentication failed for user "x"')
    assert not database_unavailable(explain_connect_error(URL, wrong))  # a mistake to report
    assert not database_unavailable(UserError("no price book in force"))
    assert not database_unavailable(psycopg.errors.DataError("numeric overflow"))
