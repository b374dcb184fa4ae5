"""Revision 0024's pricing (sums per day, tenant, metric and source; the best source chosen on
hour bitmasks) on the real server: the rows revision 0020 gave, to the last digit and numeric
scale, where its short cuts do not apply too: a source that is the best for some hours only,
a price book changing inside the day, per-row quotients that PostgreSQL rounded, zero and
tiny quantities, unattributed evidence."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from tenantcost.db import NO_TENANT
from tenantcost.db.connect import Connection, connect
from tenantcost.db.migrations import read_sql
from tenantcost.pricing.book import find_price_book
from tenantcost.pricing.store import import_book
from tests.integration.test_attribution_ledger import company

pytestmark = pytest.mark.db

DAY = datetime(2025, 11, 10, tzinfo=UTC)
H = [DAY + timedelta(hours=h) for h in range(4)]
BOOKS = ["test-a", "test-b"]  # test-b is in force from 02:00 on DAY
MEMORY_MB = Decimal(256)
EGRESS = "123456789012345.123456"  # 1.2e14 bytes: PostgreSQL rounds its / 1e9 to 12 places


def book(name: str, effective_from: datetime, vcpu: str) -> Any:
    base = find_price_book("railway-2025-11")
    rates = base.rates.model_copy(
        update={
            "vcpu_per_second": Decimal(vcpu),
            "vcpu_per_minute": None,
            "ram_gb_per_second": Decimal("0.00002"),
            "ram_gb_per_minute": None,
            "storage_gb_month": Decimal("0.15"),
            "egress_gb": Decimal("0.05"),
        }
    )
    return base.model_copy(update={"name": name, "effective_from": effective_from, "rates": rates})


@pytest.fixture
def conn(migrated_url: str) -> Iterator[Connection]:
    with connect(migrated_url, autocommit=True) as c:
        import_book(c, book("test-a", datetime(2025, 1, 1, tzinfo=UTC), "0.0001"))
        import_book(c, book("test-b", H[2], "0.001"))
        # revision 0020's function, under another name: the reference
        found = re.search(
            r"CREATE OR REPLACE FUNCTION tenantcost_priced_usage\(.*?\n\$\$;",
            read_sql("0020_usage_rollup.up.sql"),
            re.DOTALL,
        )
        assert found
        # it read evidence of no tenant as tenant_id NULL (stored as the nil UUID since 0027)
        reference = found.group(0).replace("tenantcost_priced_usage(", "priced_usage_0020(", 1)
        evidence = (
            "(SELECT hour, nullif(tenant_id, '00000000-0000-0000-0000-000000000000') AS"
            " tenant_id, metric, source, quantity FROM tenant_usage_hourly)"
        )
        assert reference.count("FROM tenant_usage_hourly u") == 1
        c.execute(reference.replace("FROM tenant_usage_hourly u", f"FROM {evidence} u"))
        yield c


def put(conn: Connection, rows: list[tuple[int, UUID | None, str, str, str]]) -> None:
    conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (DAY,))
    with conn.cursor().copy(
        "COPY tenant_usage_hourly (hour, tenant_id, metric, source, quantity) FROM STDIN"
    ) as copy:
        for hour, tenant, metric, source, quantity in rows:
            stored = NO_TENANT if tenant is None else tenant  # no tenant (revision 0027)
            copy.write_row((H[hour], stored, metric, source, Decimal(quantity)))


def priced(conn: Connection, function: str, start: datetime, end: datetime, grain: str) -> Any:
    return conn.execute(
        f"SELECT p::text AS row, p.* FROM {function}(%s, %s, %s, 'railway', %s, %s) p",
        (start, end, grain, MEMORY_MB, BOOKS),
    ).fetchall()


@pytest.fixture
def evidence(conn: Connection) -> tuple[UUID, UUID]:
    a, b = company(conn, "Alpha"), company(conn, "Beta")
    put(
        conn,
        [
            # compute: kcache (priority 1) at 01 and 02 only, pg_stat_statements (2) every
            # hour, app (3) every hour: kcache at 01-02, statements at 00 and 03, app never
            *[(h, a, "compute_seconds", "pg_stat_statements", "10") for h in range(4)],
            (1, a, "compute_seconds", "pg_stat_kcache", "4"),
            (2, a, "compute_seconds", "pg_stat_kcache", "4"),
            *[(h, a, "compute_seconds", "app", "100") for h in range(4)],
            # memory: pg_stat_database (1) at 00-01, pg_stat_activity (2) at 01-02
            (0, a, "connection_seconds", "pg_stat_database", "1.5"),
            (1, a, "connection_seconds", "pg_stat_database", "0"),
            (1, a, "connection_seconds", "pg_stat_activity", "7"),
            (2, a, "connection_seconds", "pg_stat_activity", "3"),
            # egress large enough that 0010 rounded each hour's GB to 12 places
            (0, a, "egress_bytes", "app", EGRESS),
            (1, a, "egress_bytes", "app", EGRESS),
            # storage: every source counts (2 GB each hour, 1 GB more at 00)
            *[(h, a, "storage_bytes", "database_size", "2000000000") for h in range(4)],
            (0, a, "storage_bytes", "schema_size", "1000000000"),
            # Beta: a tiny, a zero and a large memory quantity (the numeric scale)
            (0, b, "connection_seconds", "pg_stat_database", "0.000001"),
            (1, b, "connection_seconds", "pg_stat_database", "12345.678"),
            (2, b, "connection_seconds", "pg_stat_database", "0"),
            (3, b, "egress_bytes", "app", "0"),
            # no tenant: statements at 00-01, kcache at 01; background CPU at 00
            (0, None, "compute_seconds", "pg_stat_statements", "5"),
            (1, None, "compute_seconds", "pg_stat_statements", "5"),
            (1, None, "compute_seconds", "pg_stat_kcache", "2"),
            (0, None, "background_cpu_seconds", "backend_sampler", "1"),
            # not priced
            (0, a, "query_count", "pg_stat_statements", "99"),
        ],
    )
    return a, b


@pytest.mark.parametrize(
    ("grain", "start", "end"),
    [
        ("hour", DAY, DAY + timedelta(days=1)),
        ("day", DAY, DAY + timedelta(days=1)),
        ("day", datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC)),
        ("month", datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC)),
        ("hour", H[1], H[3]),
    ],
)
def test_the_rows_of_revision_0020_to_the_last_digit_and_scale(
    conn: Connection, evidence: tuple[UUID, UUID], grain: str, start: datetime, end: datetime
) -> None:
    new = Counter(r["row"] for r in priced(conn, "tenantcost_priced_usage", start, end, grain))
    old = Counter(r["row"] for r in priced(conn, "priced_usage_0020", start, end, grain))
    assert new == old
    assert len(new) >= 4


def test_a_day_by_hand(conn: Connection, evidence: tuple[UUID, UUID]) -> None:
    a, b = evidence
    rows = priced(conn, "tenantcost_priced_usage", DAY, DAY + timedelta(days=1), "day")
    got = {(r["tenant_id"], r["driver"], r["source"], r["price_book"]): r for r in rows}
    amount = {k: r["amount"] for k, r in got.items()}
    quantity = {k: r["quantity"] for k, r in got.items()}
    # compute: kcache 4 s at 01 (book a: 0.0001/s), 4 s at 02 (book b: 0.001/s);
    # statements 10 s at 00 (a), 10 s at 03 (b); app never the best
    assert amount[(a, "compute", "pg_stat_kcache", "test-a")] == Decimal("0.0004")
    assert amount[(a, "compute", "pg_stat_kcache", "test-b")] == Decimal("0.004")
    assert amount[(a, "compute", "pg_stat_statements", "test-a")] == Decimal("0.001")
    assert amount[(a, "compute", "pg_stat_statements", "test-b")] == Decimal("0.01")
    assert not [k for k in got if k[2] == "app" and k[1] == "compute"]
    # memory: database 1.5 + 0 s at 00-01 (a), activity 3 s at 02 (b); x 256 MB / 1000
    assert quantity[(a, "memory", "pg_stat_database", "test-a")] == Decimal("0.384")
    assert amount[(a, "memory", "pg_stat_database", "test-a")] == Decimal("0.00000768")
    assert quantity[(a, "memory", "pg_stat_activity", "test-b")] == Decimal("0.768")
    assert (a, "memory", "pg_stat_activity", "test-a") not in got
    # egress: each hour's 123456.789012345123456 GB rounded to 12 places (as 0010 did),
    # then summed: 2 x 123456.789012345123 (the exact sum would end ...246912)
    gb = Decimal("123456.789012345123") * 2
    assert quantity[(a, "network", "app", "test-a")] == gb == Decimal("246913.578024690246")
    assert amount[(a, "network", "app", "test-a")] == (gb * Decimal("0.05")).quantize(
        Decimal("1e-12")
    )
    # storage, both sources: (2 + 2 + 1) GB-hours at 00-01, 4 at 02-03; / 720 h x 0.15
    assert amount[(a, "storage", "database_size", "test-a")] == Decimal("0.000833333333")
    assert amount[(a, "storage", "schema_size", "test-a")] == Decimal("0.000208333333")
    assert amount[(a, "storage", "database_size", "test-b")] == Decimal("0.000833333333")
    # Beta's memory: (0.000001 + 12345.678) x 256 / 1000 at 00-01, 0 at 02
    assert quantity[(b, "memory", "pg_stat_database", "test-a")] == Decimal("3160.493568256")
    assert quantity[(b, "memory", "pg_stat_database", "test-b")] == 0
    # no tenant: statements 5 s at 00, kcache 2 s at 01 (book a); background 1 s
    assert amount[(None, "compute", "pg_stat_statements", "test-a")] == Decimal("0.0005")
    assert amount[(None, "compute", "pg_stat_kcache", "test-a")] == Decimal("0.0002")
    assert got[(None, "compute", "pg_stat_statements", "test-a")]["line"] == "unattributed"
    assert amount[(None, "compute", "backend_sampler", "test-a")] == Decimal("0.0001")
    assert got[(None, "compute", "backend_sampler", "test-a")]["line"] == "background"
    # Alpha 4 compute + 2 memory + 1 network + 3 storage, Beta 2 memory + 1 network, none 3
    assert len(got) == 16
