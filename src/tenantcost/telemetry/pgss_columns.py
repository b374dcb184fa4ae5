"""Which ``pg_stat_statements`` (and ``pg_stat_kcache``) columns to read on this server.

The one place that knows the column renames between versions. The collector asks the
catalogue which columns the installed view has and builds its SELECT from this map, so
PostgreSQL 15, 16, 17 and 18 (extension versions 1.10, 1.10, 1.11, 1.12) all work:

- PostgreSQL 17 (1.11) renamed ``blk_read_time``/``blk_write_time`` to
  ``shared_blk_read_time``/``shared_blk_write_time`` and added ``stats_since`` (when the
  entry's counters started; a changed value means the entry was reset).
- PostgreSQL 13 (1.8) split ``total_time`` into ``total_plan_time`` + ``total_exec_time``
  and added ``wal_bytes``; PostgreSQL 14 (1.9) added ``toplevel``. Older servers are not
  supported by tenantcost (it needs 15), but the map degrades gracefully.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KEY_COLUMNS = ("dbid", "userid", "queryid")


@dataclass(frozen=True)
class Logical:
    """A counter the collector needs: the first candidate column the view has wins."""

    name: str
    candidates: tuple[str, ...]
    fallback: str  # SQL used when no candidate exists
    note: str


# Order of candidates = newest name first.
PGSS_MAP: tuple[Logical, ...] = (
    Logical("toplevel", ("toplevel",), "true", "14+: top-level vs nested statement"),
    Logical("calls", ("calls",), "0", "all versions"),
    Logical("exec_ms", ("total_exec_time", "total_time"), "0", "13+: total_exec_time"),
    Logical("plan_ms", ("total_plan_time",), "0", "13+; 0 unless track_planning is on"),
    Logical("rows", ("rows",), "0", "all versions"),
    Logical(
        "io_read_ms",
        ("shared_blk_read_time", "blk_read_time"),
        "0",
        "17+: shared_blk_read_time; 15/16: blk_read_time (needs track_io_timing)",
    ),
    Logical("shared_blks_read", ("shared_blks_read",), "0", "all versions"),
    Logical("shared_blks_hit", ("shared_blks_hit",), "0", "all versions"),
    Logical("wal_bytes", ("wal_bytes",), "0", "13+"),
    Logical("stats_since", ("stats_since",), "NULL::timestamptz", "17+: entry reset detection"),
)

# pg_stat_kcache(): 2.2+ splits planning/execution; 2.1 and older have user_time/system_time.
KCACHE_MAP: tuple[Logical, ...] = (
    Logical("toplevel", ("top",), "true", "2.2+"),
    Logical("exec_user_s", ("exec_user_time", "user_time"), "0", "seconds"),
    Logical("exec_system_s", ("exec_system_time", "system_time"), "0", "seconds"),
    Logical("plan_user_s", ("plan_user_time",), "0", "2.2+, seconds"),
    Logical("plan_system_s", ("plan_system_time",), "0", "2.2+, seconds"),
)


def choose_columns(
    available: Iterable[str], mapping: Iterable[Logical] = PGSS_MAP
) -> dict[str, str | None]:
    """{logical name: the column used, or None when the fallback applies}."""
    have = set(available)
    return {item.name: next((c for c in item.candidates if c in have), None) for item in mapping}


def select_list(available: Iterable[str], mapping: Iterable[Logical] = PGSS_MAP) -> str:
    """``col AS logical, …`` for a SELECT over the view (identifiers are quoted)."""
    items = list(mapping)
    chosen = choose_columns(available, items)
    parts = []
    for item in items:
        column = chosen[item.name]
        parts.append(f'"{column}" AS {item.name}' if column else f"{item.fallback} AS {item.name}")
    return ", ".join(parts)


def missing_keys(available: Iterable[str]) -> list[str]:
    """Key columns the view lacks (the collector cannot take deltas without them)."""
    have = set(available)
    return [k for k in KEY_COLUMNS if k not in have]


def pgss_query(schema: str, available: Iterable[str]) -> str:
    """The snapshot query: the ``pg_stat_statements(false)`` function skips query texts."""
    cols = list(available)
    return (
        f"SELECT dbid, userid, queryid, {select_list(cols)} "
        f'FROM "{schema}".pg_stat_statements(false) WHERE queryid IS NOT NULL'
    )


def kcache_query(schema: str, available: Iterable[str]) -> str:
    """Per key CPU seconds from ``pg_stat_kcache()`` (user and system, planning + execution)."""
    cols = list(available)
    chosen = choose_columns(cols, KCACHE_MAP)
    top = f'"{chosen["toplevel"]}"' if chosen["toplevel"] else "true"

    def col(name: str) -> str:
        column = chosen[name]
        return f'coalesce("{column}", 0)' if column else "0"

    return (
        f"SELECT dbid, userid, queryid, {top} AS toplevel, "
        f"sum({col('exec_user_s')} + {col('plan_user_s')}) AS cpu_user_s, "
        f"sum({col('exec_system_s')} + {col('plan_system_s')}) AS cpu_system_s "
        f'FROM "{schema}".pg_stat_kcache() GROUP BY 1, 2, 3, 4'
    )


def describe(available: Iterable[str]) -> Mapping[str, str]:
    """For messages: logical name -> the column used or 'fallback <sql>'."""
    chosen = choose_columns(available)
    return {item.name: chosen[item.name] or f"fallback {item.fallback}" for item in PGSS_MAP}
