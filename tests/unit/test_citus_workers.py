"""A Citus worker's statement deltas to tenants: by mapping, by shard, split, unattributed.

Every expected figure is worked out by hand in the test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from uuid import UUID

from tenantcost.config import Settings
from tenantcost.telemetry.citus_workers import (
    Shard,
    TenantHashes,
    attribute,
    shards_in,
    shares,
    single_tenant,
    snapshot_from_state,
    snapshot_state,
    worker_conninfo,
)
from tenantcost.telemetry.collector import choose_citus_compute_source, weighted_usage
from tenantcost.telemetry.deltas import Counters, StatementKey
from tenantcost.telemetry.mapping import TenantMap
from tenantcost.telemetry.sampler import (
    BACKGROUND,
    CLUSTER_SOURCE,
    SOURCE,
    Accumulated,
    Activity,
    BackendSampler,
    follow_citus_workers,
    owners,
)

A = UUID("00000000-0000-4000-8000-00000000000a")
B = UUID("00000000-0000-4000-8000-00000000000b")
C = UUID("00000000-0000-4000-8000-00000000000c")
DB = 16384
SHARDS = {
    102008: Shard(102008, "app_messages", -100, -1),  # A and B hash here
    102009: Shard(102009, "app_messages", 0, 99),  # C alone
    102040: Shard(102040, "companies", 0, 99),  # C's co-located companies shard
}
HASHES = TenantHashes.of([(A, -50), (B, -10), (C, 42)])
ROUTED = '/*{"cId":1,"tId":"00000000-0000-4000-8000-00000000000c"}*/SELECT count(*) AS count '
HOUR = datetime(2026, 12, 2, 1, tzinfo=UTC)


def key(queryid: int, *, dbid: int = DB, toplevel: bool = True) -> StatementKey:
    return StatementKey(dbid, 10, queryid, toplevel)


def delta(calls: int, cpu: float) -> Counters:
    return Counters(calls=calls, exec_ms=cpu * 2000, cpu_user_s=cpu * 0.75, cpu_system_s=cpu / 4)


def test_the_citus_tenant_comment_marks_a_single_tenant_query() -> None:
    assert single_tenant(ROUTED + "FROM public.app_messages_102009 app_messages WHERE $1")
    assert not single_tenant("SELECT count(*) AS count FROM public.app_messages_102009 x")
    assert not single_tenant(None)


def test_shard_names_are_read_from_the_text_and_checked_against_the_catalogue() -> None:
    text = (
        "SELECT 1 FROM public.app_messages_102009 m JOIN public.companies_102040 c "
        "ON c.id = m.tenant_id WHERE m.col_102008 = $1 AND other_102008 = $2"
    )
    # col_102008 / other_102008 carry a shard's id but not its relation's name
    assert shards_in(text, SHARDS) == frozenset({102009, 102040})
    assert shards_in("SELECT * FROM app_messages_999", SHARDS) == frozenset()


def test_tenants_of_a_shard_are_those_whose_hash_is_in_its_range() -> None:
    assert HASHES.in_range(-100, -1) == frozenset({A, B})
    assert HASHES.in_range(0, 99) == frozenset({C})
    assert HASHES.in_range(-10, -10) == frozenset({B})  # an isolated tenant's range
    assert HASHES.in_range(100, 200) == frozenset()


def test_a_shared_shard_splits_by_cpu_then_by_queries_else_not_at_all() -> None:
    assert shares(frozenset({C}), {}) == {C: Decimal(1)}
    by_cpu = shares(frozenset({A, B}), {A: (Decimal("0.3"), Decimal(1)), B: (Decimal("0.1"), 9)})
    assert by_cpu == {A: Decimal("0.75"), B: Decimal("0.25")}
    by_queries = shares(frozenset({A, B}), {A: (Decimal(0), Decimal(3)), B: (Decimal(0), 1)})
    assert by_queries == {A: Decimal("0.75"), B: Decimal("0.25")}
    assert shares(frozenset({A, B}), {C: (Decimal(1), Decimal(1))}) is None


def test_attribution_maps_then_routes_by_shard_then_leaves_the_rest_unattributed() -> None:
    deltas = {
        key(1): delta(4, 0.4),  # mapped by role to A
        key(2): delta(10, 1.0),  # routed to C's shard (C alone there)
        key(3): delta(8, 0.8),  # routed to the shard of A and B
        key(4): delta(32, 3.2),  # a multi-shard query's piece: no tenant comment
        key(5, dbid=1): delta(1, 0.1),  # another database: its shard names mean nothing here
        key(6, toplevel=False): delta(5, 0.5),  # nested: inside its caller's figures
    }
    texts = {
        key(2): ROUTED + "FROM public.app_messages_102009 app_messages WHERE $1",
        key(3): ROUTED + "FROM public.app_messages_102008 app_messages WHERE $1",
        key(4): "SELECT count(*) AS count FROM public.app_messages_102008 app_messages",
        key(5, dbid=1): ROUTED + "FROM public.app_messages_102009 app_messages",
    }
    split = attribute(
        deltas,
        mapped={key(1): A},
        texts=texts,
        database_oid=DB,
        shards=SHARDS,
        tenants=HASHES,
        weights={A: (Decimal("0.6"), Decimal(2)), B: (Decimal("0.2"), Decimal(6))},
    )
    assert (split.mapped, split.by_shard_alone, split.by_shard_split) == (1, 1, 1)
    assert split.unattributed == 2
    rows = weighted_usage(split.parts, HOUR, source="w_stmt", cpu_source="w_cpu")
    got = {(r.tenant_id, r.metric, r.source): r.quantity for r in rows}
    # A: its mapped 0.4 s + 3/4 of the shared shard's 0.8 s (CPU 0.6 : 0.2) = 1.0 s
    assert got[(A, "compute_seconds", "w_cpu")] == Decimal("1.000000")
    assert got[(A, "query_count", "w_stmt")] == 4 + 6  # 8 calls x 3/4
    assert got[(B, "compute_seconds", "w_cpu")] == Decimal("0.200000")
    assert got[(B, "query_count", "w_stmt")] == 2
    assert str(got[(B, "wal_bytes", "w_stmt")]) == "0"  # a zero share is a plain 0
    assert got[(C, "compute_seconds", "w_cpu")] == Decimal("1.000000")
    assert got[(C, "compute_seconds", "w_stmt")] == Decimal("2.000000")  # 2000 ms
    # unattributed: the fan-out piece 3.2 s and the other database's 0.1 s
    assert got[(None, "compute_seconds", "w_cpu")] == Decimal("3.300000")
    assert got[(None, "query_count", "w_stmt")] == 33


def test_a_shared_shard_without_figures_stays_unattributed() -> None:
    k = key(3)
    split = attribute(
        {k: delta(8, 0.8)},
        mapped={},
        texts={k: ROUTED + "FROM public.app_messages_102008 app_messages WHERE $1"},
        database_oid=DB,
        shards=SHARDS,
        tenants=HASHES,
        weights={},
    )
    assert split.unattributed == 1 and list(split.parts) == [None]


def test_a_workers_snapshot_survives_the_state_table() -> None:
    since = datetime(2026, 12, 1, tzinfo=UTC)
    current = {
        key(1): Counters(3, 1.5, 0.25, 7, 0.5, 2, 9, 100, 0.125, None, since),
        key(2, toplevel=False): Counters(calls=1),
    }
    state = snapshot_state(current, {"dealloc": 4, "stats_reset": None})
    assert state["info"] == {"dealloc": 4, "stats_reset": None}
    assert snapshot_from_state(state) == current


def test_workers_are_reached_as_the_coordinator_session_or_through_the_setting() -> None:
    coordinator = SimpleNamespace(
        info=SimpleNamespace(dsn="host=10.0.0.1 port=5432 user=tc dbname=app", password="s3")
    )
    conninfo = worker_conninfo(coordinator, "10.0.0.7", 6432, Settings())
    assert dict(p.split("=", 1) for p in conninfo.split()) == {
        "host": "10.0.0.7",
        "port": "6432",
        "user": "tc",
        "dbname": "app",
        "password": "s3",
    }
    template = Settings(citus_worker_url="postgresql://reader@{host}:{port}/app")
    assert (
        worker_conninfo(coordinator, "10.0.0.7", 6432, template)
        == "postgresql://reader@10.0.0.7:6432/app"
    )


def test_a_worker_backend_serves_the_owner_of_the_coordinator_session_it_names() -> None:
    coordinator_owner = {12360: A, 12400: "background"}

    def linked(gpid: int) -> object:
        return coordinator_owner.get(gpid - 10**10) if gpid // 10**10 == 1 else None

    acts = [
        Activity(501, "client backend", application_name="citus_internal gpid=10000012360"),
        Activity(502, "client backend", application_name="citus_internal gpid=10000012361"),
        Activity(503, "client backend", application_name="citus_internal gpid=20000012360"),
        Activity(504, "client backend", application_name=f"tc:{B}"),
        Activity(505, "client backend", application_name="citus_internal gpid=10000012400"),
        Activity(506, "autovacuum worker"),
    ]
    got = owners(acts, TenantMap(), linked)  # type: ignore[arg-type]
    # 502: a coordinator session no tick saw; 503: a session of another node
    assert got == {501: A, 502: None, 503: None, 504: B, 505: BACKGROUND, 506: BACKGROUND}
    # without a link (the coordinator's own sampler) the gpid name means nothing
    assert owners(acts[:1], TenantMap()) == {501: None}


def test_the_cluster_figure_adds_the_workers_backends_to_the_coordinators() -> None:
    acc = Accumulated()
    acc.add(HOUR, HOUR.replace(minute=10), {A: 2_000_000_000, BACKGROUND: 500_000_000})
    worker = Accumulated()
    worker.add(HOUR, HOUR.replace(minute=10), {A: 6_500_000_000, None: 250_000_000})
    acc.add_workers(worker)
    rows = {(r.source, r.tenant_id, r.metric): r.quantity for r in acc.rows()}
    assert rows == {
        (SOURCE, A, "compute_seconds"): Decimal("2.000000"),
        (SOURCE, None, "background_cpu_seconds"): Decimal("0.500000"),
        (CLUSTER_SOURCE, A, "compute_seconds"): Decimal("8.500000"),
        (CLUSTER_SOURCE, None, "background_cpu_seconds"): Decimal("0.500000"),
        (CLUSTER_SOURCE, None, "compute_seconds"): Decimal("0.250000"),
    }
    restored = Accumulated()
    restored.merge(acc)  # a failed pass puts it back: the workers' part with it
    assert restored.citus and restored.rows() == acc.rows()
    assert all(r.source == SOURCE for r in Accumulated(seconds=acc.seconds).rows())


def test_the_pass_names_the_best_source_that_measured_the_workers() -> None:
    flags = dict(
        cluster_sampler=True, worker_kcache=True, stat_tenants=True, worker_statements=True
    )
    order = ["citus_cluster_sampler", "citus_worker_kcache", "citus_stat_tenants"]
    for source, flag in zip(
        order, ["cluster_sampler", "worker_kcache", "stat_tenants"], strict=True
    ):
        assert choose_citus_compute_source(**flags) == source
        flags[flag] = False
    assert choose_citus_compute_source(**flags) == "citus_worker_statements"
    flags["worker_statements"] = False
    assert choose_citus_compute_source(**flags) == ""  # not Citus: the local choice stands


class FakeCoordinator:
    """Answers the three catalogue queries ``follow_citus_workers`` runs."""

    def __init__(self, workers: list[dict[str, object]], *, citus: bool = True) -> None:
        self.workers, self.citus = workers, citus
        self.info = SimpleNamespace(dsn="host=127.0.0.1 port=9700 user=tc dbname=app", password="")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def execute(self, query: str, params: object = None) -> SimpleNamespace:
        if "pg_extension" in query:
            row = {"schema": "pg_catalog", "version": "13.2-1"} if self.citus else None
            return SimpleNamespace(fetchone=lambda: row)
        if "groupid = 0" in query:
            return SimpleNamespace(fetchone=lambda: {"nodeid": 1})
        return SimpleNamespace(fetchall=lambda: self.workers)


def test_workers_elsewhere_are_not_sampled_and_the_pass_says_why() -> None:
    coordinator = BackendSampler(lambda: None)
    remote = [{"nodeid": 2, "nodename": "10.0.0.7", "nodeport": 5432}]
    notes = follow_citus_workers(coordinator, FakeCoordinator(remote))
    assert notes == ["worker 10.0.0.7:5432 not sampled: not on this machine"]
    assert coordinator.followers == []
    assert follow_citus_workers(coordinator, FakeCoordinator(remote, citus=False)) == []
