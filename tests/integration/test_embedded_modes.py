"""File modes after ``tenantcost db start``: the password never lies in a file others can read,
the data directory is 0700, the log and the state file 0600, and no existing directory is
widened — as root (the server then runs as a system user) and as a normal user."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import site
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import tenantcost
from tenantcost.db.embedded import SYSTEM_USER_WHEN_ROOT, EmbeddedServer, _wheel_bin_dir

pytestmark = pytest.mark.db

IS_ROOT = os.geteuid() == 0
SRC = Path(tenantcost.__file__).resolve().parents[1]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def ancestors(path: Path) -> list[Path]:
    return [p for p in path.parents if p.exists()]


def modes_of(paths: list[Path]) -> dict[str, int]:
    return {str(p): mode(p) for p in paths}


def cli_env(data_dir: Path, home: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TENANTCOST_DATA_DIR": str(data_dir),
        "TENANTCOST_CONFIG": str(home / "no-config.toml"),
        "PYTHONPATH": os.pathsep.join([*site.getsitepackages(), str(SRC)]),
    }
    return env


def python_for(user: str | None, env: dict[str, str]) -> str | None:
    """An interpreter ``user`` can run that imports tenantcost (the venv's may live in /root)."""
    v = sys.version_info
    for candidate in (sys.executable, f"/usr/bin/python{v.major}.{v.minor}"):
        try:
            probe = subprocess.run(
                [candidate, "-c", "import tenantcost.cli"],
                env=env,
                user=user,
                capture_output=True,
                timeout=60,
                check=False,
            )
        except OSError:
            continue
        if probe.returncode == 0:
            return candidate
    return None


def tenantcost_cli(
    python: str, args: list[str], env: dict[str, str], user: str | None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-m", "tenantcost", *args],
        env=env,
        user=user,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd="/",
    )


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def assert_private(data_dir: Path, cluster_dir: Path, password: str) -> None:
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "embedded.json") == 0o600
    assert mode(cluster_dir) == 0o700
    assert mode(cluster_dir / "pg18") == 0o700
    assert mode(cluster_dir / "postgres.log") == 0o600
    for root in {data_dir, cluster_dir}:
        for path in files_under(root):
            # Nothing others may read outside the 0700 cluster directory...
            if cluster_dir / "pg18" not in path.parents:
                assert mode(path) & 0o077 == 0, path
            # ...and the password in clear text is in embedded.json only (no pwfile left).
            if path.name != "embedded.json" and path.stat().st_size < 1_000_000:
                assert password.encode() not in path.read_bytes(), path


@pytest.fixture
def sandbox() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="tc-modes-"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(not IS_ROOT, reason="needs root: checks the layout used when run as root")
def test_modes_after_db_start_as_root(sandbox: Path) -> None:
    home = sandbox / "home"
    home.mkdir(mode=0o700)
    data_dir = home / ".local" / "share" / "tenantcost"
    env = cli_env(data_dir, home)
    python = python_for(None, env)
    assert python is not None
    watched = [*ancestors(data_dir), *ancestors(_wheel_bin_dir())]
    before = modes_of(watched)
    server = EmbeddedServer(data_dir)
    try:
        started = tenantcost_cli(python, ["db", "start"], env, None)
        assert started.returncode == 0, started.stderr
        password = str(server.state().password)  # type: ignore[union-attr]
        assert modes_of(watched) == before  # no parent widened ($HOME 0700 stays 0700)
        assert mode(home) == 0o700
        # The server runs as the system user, in a 0700 directory it owns under 0711 root's.
        entry = pwd.getpwnam(SYSTEM_USER_WHEN_ROOT)
        assert server.cluster_dir.parent == Path("/var/lib/tenantcost")
        assert mode(server.cluster_dir.parent) == 0o711
        assert server.cluster_dir.stat().st_uid == entry.pw_uid
        # initdb ran with the system user's own group, not root's (files take its gid).
        assert (server.pgdata / "PG_VERSION").stat().st_gid == entry.pw_gid
        assert (server.log_file).stat().st_uid == entry.pw_uid
        assert (data_dir / "embedded.json").stat().st_uid == 0
        assert_private(data_dir, server.cluster_dir, password)
        # A second start (already initialised) keeps everything as it is.
        again = tenantcost_cli(python, ["db", "start"], env, None)
        assert again.returncode == 0, again.stderr
        assert modes_of(watched) == before
        assert_private(data_dir, server.cluster_dir, password)
        # The data directory's connection file gone (the cluster lives elsewhere as root):
        # one clear message and a way out, not a traceback.
        (data_dir / "embedded.json").unlink()
        orphan = tenantcost_cli(python, ["db", "start"], env, None)
        assert orphan.returncode == 2, orphan.stderr
        said = " ".join(orphan.stderr.split())  # however the terminal wrapped it
        assert "connection file" in said and "tenantcost db stop" in said
        assert "Traceback" not in orphan.stderr
    finally:
        server.destroy()


@pytest.fixture
def normal_user(sandbox: Path) -> Iterator[tuple[str | None, Path]]:
    """(user, home): a throwaway system user when root, else ourselves."""
    if not IS_ROOT:
        home = sandbox / "home"
        home.mkdir(mode=0o700)
        yield None, home
        return
    name = f"tc{uuid.uuid4().hex[:10]}"
    home = Path(tempfile.mkdtemp(prefix="tc-user-"))  # /tmp/… 0700, then the user's
    subprocess.run(
        ["useradd", "-M", "-d", str(home), "-s", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    shutil.chown(home, name, name)
    try:
        yield name, home
    finally:
        pidfile = home / ".local" / "share" / "tenantcost" / "pg18" / "postmaster.pid"
        if pidfile.exists():  # the test's own server, should `db stop` have failed
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
        subprocess.run(["userdel", name], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_modes_after_db_start_as_a_normal_user(normal_user: tuple[str | None, Path]) -> None:
    user, home = normal_user
    data_dir = home / ".local" / "share" / "tenantcost"
    env = cli_env(data_dir, home)
    python = python_for(user, env)
    if python is None:
        pytest.skip(f"no Python interpreter that {user} may run imports tenantcost")
    watched = ancestors(data_dir)
    before = modes_of(watched)
    started = tenantcost_cli(python, ["db", "start"], env, user)
    try:
        assert started.returncode == 0, started.stderr
        # A normal user keeps everything in place: data_dir/pg18, data_dir/postgres.log.
        password = json.loads((data_dir / "embedded.json").read_text())["password"]
        assert modes_of(watched) == before
        assert_private(data_dir, data_dir, password)
        if user is not None:
            uid = pwd.getpwnam(user).pw_uid
            assert {p.stat().st_uid for p in [data_dir, *files_under(data_dir)]} == {uid}
    finally:
        stopped = tenantcost_cli(python, ["db", "stop"], env, user)
        assert stopped.returncode == 0, stopped.stderr


@pytest.mark.skipif(not IS_ROOT, reason="needs root: the runtime base is only used as root")
def test_a_runtime_base_others_can_write_is_refused_not_fixed(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantcost.db import embedded
    from tenantcost.errors import UserError

    base = sandbox / "base"
    base.mkdir()
    base.chmod(0o777)
    monkeypatch.setattr(embedded, "RUNTIME_BASE_WHEN_ROOT", base)
    with pytest.raises(UserError, match="writable by root only"):
        EmbeddedServer(sandbox / "data").start()
    assert mode(base) == 0o777  # reported, never changed
    base.chmod(0o700)
    with pytest.raises(UserError, match="not traversable"):
        EmbeddedServer(sandbox / "data").start()
    assert mode(base) == 0o700


@pytest.mark.skipif(not IS_ROOT, reason="needs root: binaries are only copied for the system user")
def test_binaries_the_system_user_cannot_reach_are_copied_not_opened_up(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantcost.db import embedded

    hidden = sandbox / "private-venv"  # like a venv under /root: sandbox is 0700
    shutil.copytree(_wheel_bin_dir().parent, hidden / "pginstall", symlinks=True)
    base = Path(tempfile.mkdtemp(prefix="tc-base-"))  # in /tmp, ours: 0711 like the real one
    try:
        base.chmod(0o711)
        monkeypatch.setattr(embedded, "_wheel_bin_dir", lambda: hidden / "pginstall" / "bin")
        monkeypatch.setattr(embedded, "RUNTIME_BASE_WHEN_ROOT", base)
        watched = [sandbox, hidden, *ancestors(sandbox)]
        before = modes_of(watched)
        server = EmbeddedServer(sandbox / "data")
        assert not server._can_run(hidden / "pginstall" / "bin")
        copied = server._bin("pg_ctl").parent
        assert copied.parent.parent == base and copied.parent.name.startswith("pginstall-")
        assert server._can_run(copied)
        assert modes_of(watched) == before
    finally:
        shutil.rmtree(base, ignore_errors=True)
