"""Alembic migrations written as plain SQL files (``sql/NNNN_name.{up,down,drop_data}.sql``).

Each revision module only names its SQL file; ``run_sql`` executes it, so offline mode
(``tenantcost db sql``) prints exactly the SQL a DBA reviews.
"""

from __future__ import annotations

from importlib.resources import files

import sqlparse
from alembic import context, op

SQL_DIR = files("tenantcost.db.migrations") / "sql"
VERSION_TABLE = (
    "tenantcost_alembic_version"  # not alembic_version: the host app may use Alembic too
)


def read_sql(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


def drop_data_requested() -> bool:
    """``-x drop_data=true`` (``tenantcost db downgrade --drop-data``)."""
    return context.get_x_argument(as_dictionary=True).get("drop_data") == "true"


def statements(sql: str) -> list[str]:
    """The file's statements, each whole (DO blocks, dollar quotes, ``BEGIN ATOMIC`` bodies).

    Citus forwards DDL on distributed tables to every worker as the command's own text and
    refuses a text holding several commands, so each statement is executed on its own.
    Comment-only pieces are dropped; the statements keep their comments.
    """
    pieces = (piece.strip() for piece in sqlparse.split(sql))
    return [
        piece.rstrip(";").rstrip()
        for piece in pieces
        if sqlparse.format(piece, strip_comments=True).strip(" \n;")
    ]


def on_citus() -> bool:
    """True when migrating a database with the ``citus`` extension (never offline)."""
    if context.is_offline_mode():
        return False
    found = op.get_bind().exec_driver_sql(
        "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus'"
    )
    return found.first() is not None


def execute_file(name: str) -> None:
    """One statement per execute, in the file's order (one transaction per revision).

    On Citus the revision runs over one connection per node: DDL on distributed functions
    and tables in one transaction needs Citus's sequential mode.
    """
    if on_citus():
        op.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
    for statement in statements(read_sql(name)):
        op.execute(statement)


def upgrade_from(stem: str) -> None:
    execute_file(f"{stem}.up.sql")


def downgrade_from(stem: str) -> None:
    execute_file(f"{stem}.down.sql")
    if drop_data_requested():
        execute_file(f"{stem}.drop_data.sql")
