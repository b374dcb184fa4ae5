"""``collect --every`` keeps going when its database connection is killed (issue 13 item 10).

A real embedded PostgreSQL: between passes an admin terminates the collector's backend, as a
server restart or failover does; the next pass fails with a real OperationalError, and the
loop reconnects (tenacity backoff) and goes on, logging the outage once.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from functools import partial
from typing import Any

import psycopg
import pytest

from tenantcost.db.connect import Connection, connect
from tenantcost.telemetry.cli import run_every
from tenantcost.telemetry.collector import Collector
from tests.integration.loopback import stderr_lines

pytestmark = pytest.mark.db


def test_collector_loop_survives_a_killed_connection(migrated_url: str, admin_url: str) -> None:
    stop = threading.Event()
    log: list[str] = []
    backends: list[int] = []
    passes_seen: list[int] = []

    def one_pass(conn: Connection, collector: Collector) -> None:
        pid = conn.info.backend_pid
        collector.collect()  # fails with OperationalError when the backend was killed
        passes_seen.append(pid)
        if len(passes_seen) == 1:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        if len(passes_seen) == 3:
            stop.set()

    def open_connection() -> Connection:
        conn = connect(migrated_url, autocommit=True)
        backends.append(conn.info.backend_pid)
        return conn

    def collector(conn: Connection) -> Any:
        return Collector(conn, interval_s=1, measure_host=False)

    passes = run_every(
        0.05, stop, open_connection, one_pass, collector, log.append, backoff_base=0.05
    )
    assert passes == 3
    assert len(backends) == 2  # the killed connection was replaced once
    assert passes_seen[0] == backends[0] and passes_seen[1:] == [backends[1]] * 2
    assert [line.split(" ")[:2] for line in log] == [
        ["database", "unavailable"],
        ["database", "back"],
    ]


COLLECT_EVERY = [sys.executable, "-m", "tenantcost", "collect", "--every", "1s", "--no-host"]
COLLECT_EVERY += ["--no-evaluate", "--no-price"]


def wait_for_line(lines: queue.Queue[str], text: str) -> list[str]:
    """The command's stderr lines up to the first holding ``text`` (60 s per line at most)."""
    seen: list[str] = []
    while True:
        line = lines.get(timeout=60)
        seen.append(line)
        if text in line:
            return seen


def test_collect_every_command_reconnects_and_stops_on_sigterm(
    migrated_url: str, admin_url: str
) -> None:
    """The real command in its own process: its connection is killed between passes; it logs
    the outage once, goes on, and still stops cleanly on SIGTERM."""
    env = {**os.environ, "TENANTCOST_DATABASE_URL": migrated_url}
    process = subprocess.Popen(COLLECT_EVERY, env=env, stderr=subprocess.PIPE, text=True)
    with stderr_lines(process) as lines:
        wait_for = partial(wait_for_line, lines)
        wait_for("pass 1 ")
        database = migrated_url.rsplit("/", 1)[1]
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        seen = wait_for("database back")
        assert sum("database unavailable" in line for line in seen) == 1
        assert any("pass 2 " in line for line in seen)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        rest = [lines.get(timeout=5) for _ in range(lines.qsize())]
        assert any("stopped after" in line for line in rest + seen)


def test_collect_every_waits_out_a_server_restart(tmp_path: Any) -> None:
    """The server itself goes down between passes (a restart for maintenance): reconnecting is
    refused for a while, and the command waits it out instead of stopping with "cannot reach
    PostgreSQL" (connect's error hid the OperationalError the loop looked for). A wrong
    password, by contrast, is reported and stops the command."""
    import time

    from tenantcost.db import migrate
    from tenantcost.db.embedded import EmbeddedServer

    server = EmbeddedServer(tmp_path / "restarting")
    url = server.start()
    try:
        migrate.upgrade(url)
        env = {**os.environ, "TENANTCOST_DATABASE_URL": url}
        process = subprocess.Popen(COLLECT_EVERY, env=env, stderr=subprocess.PIPE, text=True)
        with stderr_lines(process) as lines:
            wait_for = partial(wait_for_line, lines)
            wait_for("pass 1 ")
            server.stop()
            wait_for("database unavailable")
            time.sleep(3)  # reconnects are refused meanwhile
            assert process.poll() is None, "collect stopped while the server was down"
            server.start()
            seen = wait_for("database back")
            assert not any("error:" in line for line in seen)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0

        wrong = url.replace("postgres:", "postgres:not-", 1)  # user:password → a wrong password
        refused = subprocess.run(
            COLLECT_EVERY,
            env={**env, "TENANTCOST_DATABASE_URL": wrong},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2, refused.stderr
        assert "rejected the credentials" in refused.stderr
    finally:
        server.destroy()
