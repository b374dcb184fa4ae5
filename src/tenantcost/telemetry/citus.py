"""Per-tenant compute and storage measured on a Citus cluster's workers.

``citus_stat_tenants`` (read on the coordinator, gathered from every node) counts each
tenant's single-tenant queries and the CPU they used on each node, for the current period
and the one before (``citus.stat_tenants_period``, 60 s by default, aligned to the clock).
It keeps no running total, so each pass books what grew since the previous pass: within one
period the growth of "this period"; across one boundary the rest of the previous period
(now "last period") plus the new one; a pass more than one period after the previous loses
what the previous period did after that pass (said in the pass's warnings: run the
collector more often than the period, or lengthen the period).

Storage: a distributed table's bytes live in its shards (``pg_total_relation_size`` on the
coordinator is ~0). A tenant's bytes are its row share of each shard it lives in
(``citus_shard_sizes``): exact for a tenant isolated to its own shard.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import sql as pgsql

from tenantcost.db.connect import Connection
from tenantcost.telemetry.mapping import sql

SOURCE = "citus_stat_tenants"
STORAGE_SOURCE = "citus_shard_share"
MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class TenantPeriods:
    """One row of citus_stat_tenants: one tenant (distribution value) on one node."""

    node: int
    colocation: int
    attribute: str
    queries_this: int
    queries_last: int
    cpu_this: Decimal
    cpu_last: Decimal

    @property
    def key(self) -> str:
        return f"{self.node}/{self.colocation}/{self.attribute}"


@dataclass(frozen=True)
class Growth:
    attribute: str
    queries: int
    cpu_seconds: Decimal
    node: int = field(default=0, compare=False)  # pg_dist_node.nodeid it was measured on


def period_of(epoch_seconds: float, period_s: int) -> int:
    """The Citus period a time falls in: periods are aligned to multiples of the length."""
    return int(epoch_seconds // period_s)


def growth(
    previous: Mapping[str, Mapping[str, Any]],
    previous_period: int | None,
    rows: Iterable[TenantPeriods],
    period: int,
) -> tuple[list[Growth], dict[str, dict[str, Any]], bool]:
    """What each tenant did since the previous pass (pure).

    ``previous``: key -> {"queries": n, "cpu": "s"} of "this period" at the previous pass,
    taken in ``previous_period``. Returns the growth per row, the state to keep, and whether a
    period was skipped (a pass more than one period after the previous: part of it lost).
    The first pass (no previous period) is a baseline and books nothing.
    """
    out: list[Growth] = []
    state: dict[str, dict[str, Any]] = {}
    skipped = previous_period is not None and period - previous_period > 1
    for row in rows:
        state[row.key] = {"queries": row.queries_this, "cpu": str(row.cpu_this)}
        if previous_period is None:
            continue
        before = previous.get(row.key, {"queries": 0, "cpu": "0"})
        seen_q, seen_cpu = int(before["queries"]), Decimal(before["cpu"])
        if period == previous_period:
            queries, cpu = row.queries_this - seen_q, row.cpu_this - seen_cpu
        elif period == previous_period + 1:  # the rest of the previous period, then this one
            queries = max(row.queries_last - seen_q, 0) + row.queries_this
            cpu = max(row.cpu_last - seen_cpu, Decimal(0)) + row.cpu_this
        else:  # the previous pass's period is gone; "last period" is one we never saw
            queries, cpu = row.queries_last + row.queries_this, row.cpu_last + row.cpu_this
        queries, cpu = max(queries, 0), max(cpu, Decimal(0)).quantize(MICRO)
        if queries or cpu:
            out.append(Growth(row.attribute, queries, cpu, row.node))
    return out, state, skipped


def shard_share_bytes(
    counts: Iterable[tuple[UUID, int, int]], shard_bytes: Mapping[int, int]
) -> dict[UUID, Decimal]:
    """Each tenant's bytes from (tenant, shard, rows): its share of each shard's rows times
    the shard's size, summed over shards (pure). A tenant alone in its shard gets it all."""
    listed = list(counts)
    rows_in: dict[int, int] = {}
    for _, shard, n in listed:
        rows_in[shard] = rows_in.get(shard, 0) + n
    out: dict[UUID, Decimal] = {}
    for tenant, shard, n in listed:
        if not rows_in[shard]:
            continue
        share = Decimal(shard_bytes.get(shard, 0)) * n / rows_in[shard]
        out[tenant] = out.get(tenant, Decimal(0)) + share
    return {tenant: value.quantize(Decimal(1)) for tenant, value in out.items()}


def read_periods(conn: Connection) -> tuple[list[TenantPeriods], int, str, int]:
    """Every tracked tenant on every node, the period length, the tracking setting, and the
    period the read fell in (by the server's clock at the read, not the pass's start time:
    a pass that began just before a period boundary reads the next period)."""
    setting: Any = conn.execute(sql("citus_stat_tenants_settings")).fetchone()
    rows = conn.execute(sql("citus_stat_tenants")).fetchall()
    periods = [
        TenantPeriods(
            int(r["nodeid"]),
            int(r["colocation_id"]),
            str(r["tenant_attribute"]),
            int(r["query_count_in_this_period"]),
            int(r["query_count_in_last_period"]),
            Decimal(repr(r["cpu_usage_in_this_period"])),
            Decimal(repr(r["cpu_usage_in_last_period"])),
        )
        for r in rows
    ]
    period_s = int(setting["period"])
    return periods, period_s, str(setting["track"]), period_of(setting["read_at"], period_s)


def known_tenants(conn: Connection, attributes: Iterable[str]) -> dict[str, UUID]:
    """Distribution values that are tenants (companies.id); others are not attributed."""
    candidates: list[UUID] = []
    for value in set(attributes):
        try:
            candidates.append(UUID(value))
        except ValueError:
            continue
    rows = conn.execute(sql("companies_known"), {"ids": candidates}).fetchall()
    return {str(r["id"]): r["id"] for r in rows}


def storage_by_tenant(conn: Connection, exclude: Iterable[str]) -> tuple[dict[UUID, Decimal], int]:
    """Tenants' row share of the shards of every distributed table keyed by tenant_id."""
    tables = conn.execute(sql("citus_tenant_tables"), {"exclude": list(exclude)}).fetchall()
    sizes = {int(r["shard_id"]): int(r["size"]) for r in conn.execute(sql("citus_shard_sizes"))}
    totals: dict[UUID, Decimal] = {}
    for t in tables:
        query = pgsql.SQL(
            "SELECT tenant_id, get_shard_id_for_distribution_column({name}, tenant_id) AS shard,"
            " count(*) AS n FROM {table} WHERE tenant_id IS NOT NULL GROUP BY tenant_id"
        ).format(name=pgsql.Literal(t["name"]), table=pgsql.Identifier(t["schema"], t["name"]))
        counts = [(r["tenant_id"], int(r["shard"]), int(r["n"])) for r in conn.execute(query)]
        for tenant, nbytes in shard_share_bytes(counts, sizes).items():
            totals[tenant] = totals.get(tenant, Decimal(0)) + nbytes
    return totals, len(tables)
