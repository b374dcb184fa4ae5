"""What the PostgreSQL host really spent: CPU seconds and memory of the server processes.

Only possible when the server runs on this machine (the embedded server, or a local one
we can see with psutil). CPU is the postmaster's own time, its exited children's time
(``children_user``/``children_system``, which the postmaster collects when it reaps
backends) and every live child's time: a cumulative counter, so backends that came and
went between two passes are not lost. Read the postmaster first, then the children, so a
child exiting in between is counted at most once.

Memory is each process's private RSS (rss - shared) plus the largest shared mapping once
(shared_buffers and friends are mapped into every backend), an estimate of the real
footprint.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import psutil

from tenantcost.db.connect import Connection

LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class HostSample:
    postmaster_pid: int
    create_time: float
    cpu_seconds: float
    memory_bytes: int


def is_local(conn: Connection) -> bool:
    host = conn.info.host or ""
    return host in LOCAL_HOSTS or host.startswith("/")


def find_postmaster(conn: Connection) -> psutil.Process | None:
    """The postmaster of the server ``conn`` talks to, when it runs on this machine."""
    if not is_local(conn):
        return None
    row: Any = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    try:
        backend = psutil.Process(int(row["pid"]))
        parent = backend.parent()
        if parent is None or "postgres" not in parent.name():
            return None
        data_dir = _data_directory(conn)
        if data_dir is not None and os.path.realpath(parent.cwd()) != os.path.realpath(data_dir):
            return None
        return parent
    except (psutil.Error, OSError):
        return None


def _data_directory(conn: Connection) -> str | None:
    try:
        with conn.transaction():
            row: Any = conn.execute("SELECT current_setting('data_directory') AS d").fetchone()
        return str(row["d"])
    except Exception:  # not allowed to read it (needs pg_read_all_settings): skip the check
        return None


def sample(postmaster: psutil.Process) -> HostSample | None:
    try:
        with postmaster.oneshot():
            times = postmaster.cpu_times()
            cpu = times.user + times.system + times.children_user + times.children_system
            mem = postmaster.memory_info()
            private = mem.rss - getattr(mem, "shared", 0)
            shared = getattr(mem, "shared", 0)
            create_time = postmaster.create_time()
        for child in postmaster.children():
            try:
                with child.oneshot():
                    ct = child.cpu_times()
                    cm = child.memory_info()
                cpu += ct.user + ct.system
                private += cm.rss - getattr(cm, "shared", 0)
                shared = max(shared, getattr(cm, "shared", 0))
            except psutil.Error:
                continue  # exited meanwhile: its time shows up in children_* next pass
    except psutil.Error:
        return None
    return HostSample(postmaster.pid, create_time, cpu, max(0, private) + shared)


def host_label(conn: Connection) -> str:
    return f"{socket.gethostname()}:{conn.info.port}"
