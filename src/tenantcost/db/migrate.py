"""Alembic driven from Python: upgrade, downgrade, history, and offline SQL for review."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from tenantcost.db.migrations import VERSION_TABLE
from tenantcost.errors import UserError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
OFFLINE_URL = "postgresql+psycopg://reviewer@localhost/review"


def engine_for(url: str) -> sqlalchemy.engine.Engine:
    """An engine whose connections psycopg opens from ``url`` itself, as every other command
    does: a postgresql:// URL or a key=value connection string (SQLAlchemy's own parser reads
    only its URL form, and would print the string in its error)."""
    import psycopg

    return sqlalchemy.create_engine(
        "postgresql+psycopg://",
        poolclass=sqlalchemy.pool.NullPool,
        creator=lambda: psycopg.connect(url),
    )


def alembic_config(
    url: str, *, drop_data: bool = False, stdout: io.StringIO | None = None
) -> Config:
    cfg = Config(stdout=stdout) if stdout is not None else Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = url
    if drop_data:
        cfg.cmd_opts = _XArgs(["drop_data=true"])  # type: ignore[assignment]
    return cfg


@dataclass
class _XArgs:
    """Alembic reads ``-x key=value`` arguments from ``config.cmd_opts.x``."""

    x: list[str]


def _run(action: str, fn: object, *args: object) -> None:
    try:
        fn(*args)  # type: ignore[operator]
    except CommandError as exc:
        raise UserError(
            f"{action} failed: {exc}", "see `tenantcost db history` for revisions"
        ) from exc
    except sqlalchemy.exc.DBAPIError as exc:
        detail = str(exc.orig).strip() if exc.orig else str(exc)
        raise UserError(
            f"{action} failed and was rolled back to the previous revision: {detail}",
            "fix the cause above and run it again; `tenantcost db current` shows where it stands",
        ) from exc


def upgrade(url: str, revision: str = "head") -> None:
    _run("upgrade", command.upgrade, alembic_config(url), revision)


def downgrade(url: str, revision: str, *, drop_data: bool = False) -> None:
    _run("downgrade", command.downgrade, alembic_config(url, drop_data=drop_data), revision)


def offline_sql(revision: str = "head", *, downgrade_to: str | None = None) -> str:
    """The exact SQL an upgrade (or downgrade) would run, without touching a database."""
    buffer = io.StringIO()
    cfg = alembic_config(OFFLINE_URL, stdout=buffer)
    cfg.output_buffer = buffer
    if downgrade_to is not None:
        _run("offline downgrade", command.downgrade, cfg, f"{revision}:{downgrade_to}", True)
    else:
        _run("offline upgrade", command.upgrade, cfg, revision, True)
    return buffer.getvalue()


def current_revision(url: str) -> str | None:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    finally:
        engine.dispose()


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(OFFLINE_URL))


def head_revision() -> str:
    head = script_directory().get_current_head()
    assert head is not None
    return head


def history() -> list[dict[str, str]]:
    """Revisions oldest first: id, parent and what each does."""
    revisions = list(script_directory().walk_revisions())
    return [
        {
            "revision": rev.revision,
            "down_revision": str(rev.down_revision or ""),
            "description": (rev.doc or "").strip().splitlines()[0] if rev.doc else "",
        }
        for rev in reversed(revisions)
    ]
