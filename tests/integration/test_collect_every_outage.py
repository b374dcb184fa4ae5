"""``collect --every`` keeps going when its database connection is killed (issue 13 item 10).

A real embedded PostgreSQL: between passes an admin terminates the collector's backend, as a
server restart or failover does; the next pass fails with a real OperationalError, and the
loop reconnects (tenacity backoff) and goes on, logging the outage once.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from tenantcost.db.connect import Connection, connect
from tenantcost.telemetry.cli import run_every
from tenantcost.telemetry.collector import Collector

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
