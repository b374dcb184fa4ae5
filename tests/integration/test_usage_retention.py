"""Usage evidence retention (revision 0020, issue 15): hourly evidence older than
TENANTCOST_USAGE_HOURLY_DAYS is rolled up into daily evidence, one transaction per UTC day,
and only then removed; rolled-up days cannot be re-priced."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tenantcost.attribution.ledger import attribute_period, price_day_range
from tenantcost.config import Settings, get_settings
from tenantcost.db import NO_TENANT
from tenantcost.db.connect import connect
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.pricing.book import find_price_book
from tenantcost.pricing.store import import_book
from tenantcost.telemetry.retention import apply_retention
from tenantcost.telemetry.timeutil import hour_period, month_period

pytestmark = pytest.mark.db
Conn = psycopg.Connection[dict[str, Any]]

NOV = month_period("2025-11")
AS_OF = datetime(2025, 12, 1, 1, tzinfo=UTC)
# 35 days before 2025-12-20 00:00 is 2025-11-15 00:00: the 10th and 11th go, the 16th stays.
NOW = datetime(2025, 12, 20, 12, tzinfo=UTC)
NOV10, NOV11, NOV16 = date(2025, 11, 10), date(2025, 11, 11), date(2025, 11, 16)


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _settings(**update: Any) -> Settings:
    return get_settings().model_copy(update={"usage_hourly_days": 35, **update})


def _company(conn: Conn, name: str) -> uuid.UUID:
    row: Any = conn.execute(
        "INSERT INTO companies (name) VALUES (%s) RETURNING id", (name,)
    ).fetchone()
    return uuid.UUID(str(row["id"]))


def _put(
    conn: Conn,
    at: datetime,
    tenant: uuid.UUID | None,
    quantity: str,
    metric: str = "compute_seconds",
    source: str = "pg_stat_statements",
) -> None:
    conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (at,))
    conn.execute(
        "INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity) "
        "VALUES (%s, %s, %s, %s, %s)",
        (at, NO_TENANT if tenant is None else tenant, metric, source, Decimal(quantity)),
    )


def _daily(conn: Conn) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = conn.execute(
        "SELECT day, tenant_id, metric, source, quantity, peak, last_hour, last_quantity, hours "
        "FROM tenant_usage_daily"
    ).fetchall()
    return {  # no tenant: the nil UUID (revision 0027), None here
        (
            r["day"],
            None if r["tenant_id"] == NO_TENANT else r["tenant_id"],
            r["metric"],
            r["source"],
        ): (
            r["quantity"],
            r["peak"],
            r["last_hour"],
            r["last_quantity"],
            r["hours"],
        )
        for r in rows
    }


def _exists(conn: Conn, name: str) -> bool:
    row: Any = conn.execute("SELECT to_regclass(%s) AS r", (name,)).fetchone()
    return row["r"] is not None


def _cost_daily(conn: Conn) -> list[tuple[Any, ...]]:
    rows = conn.execute(
        "SELECT day, line, tenant_id, driver, source, price_book, quantity, amount "
        "FROM tenant_cost_daily ORDER BY day, line, tenant_id, driver, source"
    ).fetchall()
    return [tuple(r.values()) for r in rows]


@pytest.fixture
def priced(migrated_url: str) -> Iterator[Conn]:
    with connect(migrated_url, autocommit=True) as c:
        import_book(c, find_price_book("railway-2025-11"))
        yield c


@pytest.fixture
def evidence(priced: Conn) -> tuple[Conn, uuid.UUID]:
    """Tenant A on the 10th (3 hours of CPU, 2 of storage) and the 16th; unattributed CPU on
    the 11th; all priced into tenant_cost_daily by attributing November."""
    conn = priced
    a = _company(conn, "Alpha")
    _put(conn, _at(NOV10, 9), a, "600")
    _put(conn, _at(NOV10, 10), a, "120")
    _put(conn, _at(NOV10, 23), a, "30.5")
    _put(conn, _at(NOV10, 9), a, "2000000000", "storage_bytes", "database_size")
    _put(conn, _at(NOV10, 10), a, "3000000000", "storage_bytes", "database_size")
    _put(conn, _at(NOV11, 9), None, "100")
    _put(conn, _at(NOV16, 9), a, "60")
    attribute_period(conn, NOV, as_of=AS_OF)
    return conn, a


def test_rollup_sums_equal_the_hourly_sums_and_only_old_days_go(
    evidence: tuple[Conn, uuid.UUID],
) -> None:
    conn, a = evidence
    cost_before = _cost_daily(conn)
    ledger_before = conn.execute(
        "SELECT tenant_id, driver, amount FROM tenant_cost_ledger WHERE period = '2025-11' "
        "ORDER BY tenant_id, driver, amount"
    ).fetchall()

    done = apply_retention(conn, NOW, _settings())

    # Every day of November before the 15th is rolled up (empty days too: their partitions
    # go), the days with evidence among them are the 10th and the 11th.
    assert done.rolled_days == [date(2025, 11, d) for d in range(1, 15)]
    assert done.hourly_rows == 6  # 5 rows on the 10th + 1 on the 11th
    assert done.repriced_days == []  # both were priced and unchanged
    # By hand: CPU 600 + 120 + 30.5 = 750.5 s, largest hour 600, last hour 23 (30.5), 3 hours;
    # storage 2e9 + 3e9 = 5e9 byte-hours, peak 3e9, last hour 10 (3e9), 2 hours.
    assert _daily(conn) == {
        (NOV10, a, "compute_seconds", "pg_stat_statements"): (
            Decimal("750.5"),
            Decimal(600),
            23,
            Decimal("30.5"),
            3,
        ),
        (NOV10, a, "storage_bytes", "database_size"): (
            Decimal(5000000000),
            Decimal(3000000000),
            10,
            Decimal(3000000000),
            2,
        ),
        (NOV11, None, "compute_seconds", "pg_stat_statements"): (
            Decimal(100),
            Decimal(100),
            9,
            Decimal(100),
            1,
        ),
    }
    marks = conn.execute(
        "SELECT day, hours, rows FROM tenant_usage_rolled_days WHERE rows > 0 ORDER BY day"
    ).fetchall()
    # Hours 9, 10 and 23 on the 10th: 2^9 + 2^10 + 2^23 = 512 + 1024 + 8388608.
    assert [tuple(r.values()) for r in marks] == [(NOV10, 8390144, 5), (NOV11, 512, 1)]

    # Only the old days' hours went, with their partitions; the 16th stays hourly.
    left = conn.execute("SELECT hour, quantity FROM tenant_usage_hourly ORDER BY hour").fetchall()
    assert [tuple(r.values()) for r in left] == [(_at(NOV16, 9), Decimal(60))]
    assert not _exists(conn, "tenant_usage_hourly_y2025m11d10")
    assert not _exists(conn, "tenant_usage_hourly_y2025m11d11")
    assert _exists(conn, "tenant_usage_hourly_y2025m11d16")
    # Removing rolled-up hours is not a change to re-price: the priced cost and the month stay.
    assert conn.execute("SELECT day FROM tenant_usage_changed_days").fetchall() == []
    assert _cost_daily(conn) == cost_before
    attribute_period(conn, NOV, as_of=AS_OF)
    ledger_after = conn.execute(
        "SELECT tenant_id, driver, amount FROM tenant_cost_ledger WHERE period = '2025-11' "
        "ORDER BY tenant_id, driver, amount"
    ).fetchall()
    assert ledger_after == ledger_before

    # Hours with usage still count for host-measured months: 9, 10, 23 on the 10th, 9 on the
    # 11th (both rolled up) and 9 on the 16th = 5; the host was measured in one of them.
    conn.execute(
        "INSERT INTO host_usage_hourly (hour, host, metric, quantity) "
        "VALUES (%s, 'db1', 'cpu_seconds', 3600)",
        (_at(NOV10, 9),),
    )
    result = attribute_period(conn, NOV, as_of=AS_OF)
    assert "4 hours with usage have no host CPU measurement" in result.notes

    # A second run finds nothing more to do.
    again = apply_retention(conn, NOW, _settings())
    assert again.rolled_days == [] and again.dropped == []


def test_usage_by_day_reads_both_kinds_of_evidence(evidence: tuple[Conn, uuid.UUID]) -> None:
    """tenant_usage_by_day: the same per-day sums before and after the roll-up."""
    conn, a = evidence
    query = (
        "SELECT day, metric, source, quantity, peak, last_hour, last_quantity, hours "
        "FROM tenant_usage_by_day WHERE tenant_id = %s ORDER BY day, metric, source"
    )
    before = [tuple(r.values()) for r in conn.execute(query, (a,)).fetchall()]
    # By hand: the 10th's CPU 600 + 120 + 30.5 = 750.5 (3 hours, last 23 h: 30.5), storage
    # 2e9 + 3e9 byte-hours (2 hours, last 10 h: 3e9); the 16th's CPU 60 at 9 h.
    assert before == [
        (NOV10, "compute_seconds", "pg_stat_statements", Decimal("750.5"), Decimal(600), 23,
         Decimal("30.5"), 3),
        (NOV10, "storage_bytes", "database_size", Decimal(5000000000), Decimal(3000000000), 10,
         Decimal(3000000000), 2),
        (NOV16, "compute_seconds", "pg_stat_statements", Decimal(60), Decimal(60), 9,
         Decimal(60), 1),
    ]  # fmt: skip
    apply_retention(conn, NOW, _settings())
    after = [tuple(r.values()) for r in conn.execute(query, (a,)).fetchall()]
    assert after == before


def test_the_tenant_pages_monthly_usage_reads_rolled_up_days_too(
    evidence: tuple[Conn, uuid.UUID],
) -> None:
    """The tenant page's 12-month usage table: the same November before and after the 10th
    is rolled up (it read only hourly evidence, so rolled-up days vanished from it)."""
    conn, a = evidence
    query = queries("tenantcost.web")["tenant_usage_monthly"]

    def november() -> tuple[Any, ...]:
        (row,) = conn.execute(query, {"period": "2025-11", "tenant_id": a}).fetchall()
        return (row["period"], row["cpu_seconds"], row["storage_gb"])

    # By hand: CPU 600 + 120 + 30.5 (the 10th) + 60 (the 16th) = 810.5 s; storage at the
    # month's last sampled hour (the 10th, 10 h): 3e9 bytes = 3 GB.
    assert november() == ("2025-11", Decimal("810.5"), Decimal(3))
    apply_retention(conn, NOW, _settings())
    assert conn.execute(
        "SELECT count(*) AS n FROM tenant_usage_hourly WHERE tenant_id = %s AND hour < %s",
        (a, _at(NOV16, 0)),
    ).fetchone() == {"n": 0}  # the 10th is daily evidence now
    assert november() == ("2025-11", Decimal("810.5"), Decimal(3))


def test_tenant_resource_usage_reads_rolled_up_days_too(priced: Conn) -> None:
    """The seed's view covers the current UTC month; late in a month its first days are daily
    evidence only (revision 0022 reads them). The month's first day is rolled up here by a
    retention run dated 5 days later with 3 days of hourly evidence kept."""
    conn = priced
    a = _company(conn, "Alpha")
    row: Any = conn.execute("SELECT date_trunc('month', now(), 'UTC') AS m").fetchone()
    first = row["m"].astimezone(UTC)
    _put(conn, first.replace(hour=1), a, "12.5")
    _put(conn, first.replace(hour=2), a, "7.5")
    _put(conn, first.replace(hour=1), a, "40", "query_count", "pg_stat_statements")
    _put(conn, first.replace(hour=1), a, "1000000000", "storage_bytes", "database_size")
    _put(conn, first.replace(hour=3), a, "4000000000", "storage_bytes", "database_size")
    view = (
        "SELECT cpu_ms_total, storage_gb, query_count FROM tenant_resource_usage "
        "WHERE tenant_id = %s"
    )
    # By hand: (12.5 + 7.5) s = 20,000 ms; storage at the last sampled hour (3 h): 4 GB; 40
    expected = {"cpu_ms_total": 20000, "storage_gb": Decimal("4.00"), "query_count": 40}
    assert conn.execute(view, (a,)).fetchone() == expected
    apply_retention(conn, first + timedelta(days=5), _settings(usage_hourly_days=3))
    assert conn.execute(
        "SELECT count(*) AS n FROM tenant_usage_hourly WHERE tenant_id = %s", (a,)
    ).fetchone() == {"n": 0}
    assert conn.execute(view, (a,)).fetchone() == expected


def test_a_failed_day_keeps_all_its_hours_and_earlier_days_stay_done(
    evidence: tuple[Conn, uuid.UUID],
) -> None:
    """One transaction per day: the 11th's roll-up fails, so none of its hours goes and it
    is not marked; the 10th, done before it, stays done."""
    conn, _ = evidence
    conn.execute(
        "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.day = DATE '2025-11-11' THEN RAISE EXCEPTION 'disk full'; END IF; "
        "RETURN NEW; END $$"
    )
    conn.execute(
        "CREATE TRIGGER test_refuse BEFORE INSERT ON tenant_usage_daily "
        "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
    )
    with pytest.raises(psycopg.errors.RaiseException):
        apply_retention(conn, NOW, _settings())
    marks = conn.execute("SELECT day FROM tenant_usage_rolled_days ORDER BY day").fetchall()
    assert [r["day"] for r in marks] == [date(2025, 11, d) for d in range(1, 11)]
    assert not _exists(conn, "tenant_usage_hourly_y2025m11d10")
    assert _exists(conn, "tenant_usage_hourly_y2025m11d11")
    left = conn.execute(
        "SELECT quantity FROM tenant_usage_hourly WHERE hour = %s", (_at(NOV11, 9),)
    ).fetchall()
    assert [r["quantity"] for r in left] == [Decimal(100)]


def test_a_day_changed_since_it_was_priced_is_repriced_before_it_is_rolled_up(
    evidence: tuple[Conn, uuid.UUID],
) -> None:
    conn, a = evidence
    _put(conn, _at(NOV10, 11), a, "120")  # late evidence marks the 10th changed
    done = apply_retention(conn, NOW, _settings())
    assert done.repriced_days == [NOV10]
    row: Any = conn.execute(
        "SELECT amount FROM tenant_cost_daily WHERE day = %s AND tenant_id = %s "
        "AND driver = 'compute'",
        (NOV10, a),
    ).fetchone()
    # 600 + 120 + 30.5 + 120 = 870.5 s x $0.000463 a minute = 0.4030415 / 60
    # = 0.006717358333…, rounded to 12 places.
    assert row["amount"] == Decimal("0.006717358333")


def test_rolled_up_days_refuse_repricing_with_a_hint(evidence: tuple[Conn, uuid.UUID]) -> None:
    conn, _ = evidence
    apply_retention(conn, NOW, _settings())
    with pytest.raises(UserError) as refused:
        price_day_range(conn, NOV10, NOV11)
    assert "2025-11-10..2025-11-11" in refused.value.message
    assert "rolled up" in refused.value.message
    assert refused.value.hint is not None
    assert "TENANTCOST_USAGE_HOURLY_DAYS" in refused.value.hint
    with pytest.raises(UserError) as hour:
        attribute_period(conn, hour_period(_at(NOV10, 9)), as_of=AS_OF)
    assert "cannot re-price 2025-11-10" in hour.value.message
    # Attributing the month with other pricing inputs keeps the rolled-up days' cost, and
    # says so; the 16th (still hourly) is re-priced.
    other = _settings(connection_memory_mb=20)
    result = attribute_period(conn, NOV, as_of=AS_OF, settings=other)
    assert any(
        "2 day(s) between 2025-11-10 and 2025-11-11 keep the cost" in n for n in result.notes
    )


def test_a_rolled_up_day_written_again_is_hourly_until_rolled_up_again(
    evidence: tuple[Conn, uuid.UUID],
) -> None:
    """A bulk load (the demo history) writes a rolled-up day again: it can be priced from the
    new hours, and the next roll-up replaces that source's daily evidence instead of adding
    to it."""
    conn, a = evidence
    apply_retention(conn, NOW, _settings())
    _put(conn, _at(NOV10, 12), a, "240")  # the loader's replacement for the whole day
    price_day_range(conn, NOV10, NOV10)  # no refusal: the day has hours again
    row: Any = conn.execute(
        "SELECT amount FROM tenant_cost_daily WHERE day = %s AND tenant_id = %s "
        "AND driver = 'compute'",
        (NOV10, a),
    ).fetchone()
    assert row["amount"] == Decimal("0.001852")  # 240 s = 4 min x $0.000463
    # Meanwhile tenant_usage_by_day counts pg_stat_statements' 10th from the new hour only
    # (its daily row is hidden), and the storage of the 10th still from the daily row.
    by_day = conn.execute(
        "SELECT metric, source, quantity, hours FROM tenant_usage_by_day "
        "WHERE tenant_id = %s AND day = %s ORDER BY metric",
        (a, NOV10),
    ).fetchall()
    assert [tuple(r.values()) for r in by_day] == [
        ("compute_seconds", "pg_stat_statements", Decimal(240), 1),
        ("storage_bytes", "database_size", Decimal(5000000000), 2),
    ]
    apply_retention(conn, NOW, _settings())
    daily = _daily(conn)
    # pg_stat_statements' day replaced by the new hour; the storage rows (no new hours of
    # database_size) stay as rolled up before.
    assert daily[(NOV10, a, "compute_seconds", "pg_stat_statements")] == (
        Decimal(240),
        Decimal(240),
        12,
        Decimal(240),
        1,
    )
    assert daily[(NOV10, a, "storage_bytes", "database_size")][0] == Decimal(5000000000)
    assert not _exists(conn, "tenant_usage_hourly_y2025m11d10")


def test_a_monthly_partition_from_before_0020_goes_day_by_day(priced: Conn) -> None:
    conn = priced
    conn.execute(
        "CREATE TABLE tenant_usage_hourly_y2025m10 PARTITION OF tenant_usage_hourly "
        "FOR VALUES FROM ('2025-10-01 00:00+00') TO ('2025-11-01 00:00+00')"
    )
    name: Any = conn.execute(
        "SELECT tenantcost_ensure_usage_partition('2025-10-05 00:00+00') AS p"
    ).fetchone()
    assert name["p"] == "tenant_usage_hourly_y2025m10"
    a = _company(conn, "Alpha")
    oct5, oct30 = date(2025, 10, 5), date(2025, 10, 30)
    _put(conn, _at(oct5, 9), a, "60")
    _put(conn, _at(oct5, 10), a, "30")
    _put(conn, _at(oct30, 9), a, "90")
    attribute_period(conn, month_period("2025-10"), as_of=datetime(2025, 11, 1, tzinfo=UTC))
    # 21 days before 2025-11-20 00:00 is 2025-10-30 00:00: the 5th goes, the 30th stays.
    done = apply_retention(
        conn, datetime(2025, 11, 20, 12, tzinfo=UTC), _settings(usage_hourly_days=21)
    )
    assert done.rolled_days == [date(2025, 10, d) for d in range(1, 30)]
    assert done.hourly_rows == 2 and done.dropped == []
    left = conn.execute("SELECT hour FROM tenant_usage_hourly ORDER BY hour").fetchall()
    assert [r["hour"] for r in left] == [_at(oct30, 9)]
    assert conn.execute("SELECT day FROM tenant_usage_changed_days").fetchall() == []
    assert _daily(conn) == {
        (oct5, a, "compute_seconds", "pg_stat_statements"): (
            Decimal(90),  # 60 + 30
            Decimal(60),
            10,
            Decimal(30),
            2,
        )
    }
    # Later the 30th goes too, and the emptied monthly partition is dropped.
    done = apply_retention(
        conn, datetime(2025, 12, 5, 12, tzinfo=UTC), _settings(usage_hourly_days=21)
    )
    assert oct30 in done.rolled_days and done.dropped == ["tenant_usage_hourly_y2025m10"]
    assert not _exists(conn, "tenant_usage_hourly_y2025m10")


def test_retention_months_delete_daily_evidence_after_rolling_it_up(
    evidence: tuple[Conn, uuid.UUID],
) -> None:
    """One month kept on 2025-12-20: everything before December goes, hourly (rolled up and
    priced first) and then daily; the priced cost stays."""
    conn, _ = evidence
    cost_before = _cost_daily(conn)
    done = apply_retention(conn, NOW, _settings(usage_retention_months=1))
    assert done.rolled_days == [date(2025, 11, d) for d in range(1, 31)]
    assert done.daily_days_deleted == 3  # the 10th, 11th and 16th had evidence
    assert _daily(conn) == {}
    assert conn.execute("SELECT hour FROM tenant_usage_hourly").fetchall() == []
    assert _cost_daily(conn) == cost_before


# ----------------------------------------------------------------------------- full re-price


def _ledger(conn: Conn) -> list[tuple[Any, ...]]:
    rows = conn.execute(
        "SELECT line, tenant_id, driver, source, price_book, quantity, unit_price, amount "
        "FROM tenant_cost_ledger WHERE period = '2025-11' "
        "ORDER BY line, tenant_id, driver, source, price_book, amount"
    ).fetchall()
    return [tuple(r.values()) for r in rows]


def test_a_full_reprice_on_two_connections_equals_the_incremental_month(
    priced: Conn, migrated_url: str
) -> None:
    """The month priced day by day as evidence arrives (the hourly cycle) and the same month
    with every day marked changed, priced on two connections at once: the same daily rows and
    the same ledger, and the figure worked by hand."""
    conn = priced
    a, b = _company(conn, "Alpha"), _company(conn, "Beta")
    nov3, nov20 = date(2025, 11, 3), date(2025, 11, 20)
    _put(conn, _at(nov3, 9), a, "600")  # pg_stat_statements: outranked below
    _put(conn, _at(nov3, 9), a, "300", "compute_seconds", "pg_stat_kcache")
    _put(conn, _at(nov3, 9), a, "2000000000", "storage_bytes", "database_size")
    _put(conn, _at(nov3, 9), a, "1000000000", "storage_bytes", "schema_size")
    _put(conn, _at(nov3, 10), b, "90", "connection_seconds", "pg_stat_database")
    attribute_period(conn, NOV, as_of=AS_OF)
    _put(conn, _at(NOV10, 9), a, "120")
    _put(conn, _at(NOV10, 9), b, "5000000000", "egress_bytes", "app")
    attribute_period(conn, NOV, as_of=AS_OF)
    _put(conn, _at(NOV11, 23), None, "45")
    _put(conn, _at(nov20, 0), b, "30")
    attribute_period(conn, NOV, as_of=AS_OF)
    daily, ledger = _cost_daily(conn), _ledger(conn)
    compute: Any = conn.execute(
        "SELECT sum(amount) AS amount FROM tenant_cost_ledger WHERE period = '2025-11' "
        "AND tenant_id = %s AND driver = 'compute'",
        (a,),
    ).fetchone()
    # kcache's 300 s win the 3rd's hour (priority 1 over 2): 5 min x $0.000463 = 0.002315,
    # + 120 s on the 10th (pg_stat_statements): 2 min = 0.000926 → 0.003241.
    assert compute["amount"] == Decimal("0.003241")

    conn.execute(
        "INSERT INTO tenant_usage_changed_days (day) SELECT d::date FROM "
        "generate_series('2025-11-01'::date, '2025-11-30'::date, interval '1 day') d "
        "ON CONFLICT DO NOTHING"
    )
    conn.execute("UPDATE tenant_cost_daily SET amount = 7")  # proves every day was re-priced
    with connect(migrated_url) as second:
        attribute_period(conn, NOV, as_of=AS_OF, more=[second])
    assert conn.execute("SELECT count(*) AS n FROM tenant_usage_changed_days").fetchone() == {
        "n": 0
    }
    assert _cost_daily(conn) == daily
    assert _ledger(conn) == ledger


def test_downgrade_merges_daily_partitions_into_monthly_ones(empty_url: str) -> None:
    """Revision 0020's down script: a month held in daily partitions becomes one monthly
    partition with every row; 0019's partition function works again; upgrading again works."""
    from tenantcost.db import migrate

    migrate.upgrade(empty_url)
    with connect(empty_url, autocommit=True) as conn:
        a = _company(conn, "Alpha")
        _put(conn, _at(NOV10, 9), a, "600")
        _put(conn, _at(NOV16, 23), a, "60")
    migrate.downgrade(empty_url, "0019")
    with connect(empty_url, autocommit=True) as conn:
        parts = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'tenant_usage_hourly'::regclass ORDER BY 1"
        ).fetchall()
        assert [r["relname"] for r in parts] == ["tenant_usage_hourly_y2025m11"]
        rows = conn.execute(
            "SELECT hour, quantity FROM tenant_usage_hourly_y2025m11 ORDER BY hour"
        ).fetchall()
        assert [tuple(r.values()) for r in rows] == [
            (_at(NOV10, 9), Decimal(600)),
            (_at(NOV16, 23), Decimal(60)),
        ]
        made: Any = conn.execute(
            "SELECT tenantcost_ensure_usage_partition('2025-12-05 00:00+00') AS p"
        ).fetchone()
        assert made["p"] == "tenant_usage_hourly_y2025m12"
    migrate.upgrade(empty_url)
    with connect(empty_url, autocommit=True) as conn:
        # The monthly partition stays monthly; a new month is partitioned by day.
        old: Any = conn.execute(
            "SELECT tenantcost_ensure_usage_partition('2025-11-20 00:00+00') AS p"
        ).fetchone()
        assert old["p"] == "tenant_usage_hourly_y2025m11"
        new: Any = conn.execute(
            "SELECT tenantcost_ensure_usage_partition('2026-01-03 05:00+00') AS p"
        ).fetchone()
        assert new["p"] == "tenant_usage_hourly_y2026m01d03"


def test_a_measuring_pass_leaves_retention_to_the_service(
    evidence: tuple[Conn, uuid.UUID],
) -> None:
    """The demo's telemetry workload collects with retain=False: its passes measure the
    queries it drives and do not roll up old evidence (the service's next pass does)."""
    from tenantcost.telemetry.collector import Collector

    conn, a = evidence

    def hourly_rows() -> int:
        row: Any = conn.execute(
            "SELECT count(*) AS n FROM tenant_usage_hourly WHERE tenant_id = %s", (a,)
        ).fetchone()
        return int(row["n"])

    assert hourly_rows() == 6  # the 10th (3 CPU, 2 storage) and the 16th
    Collector(conn, measure_host=False, retain=False).collect()
    assert hourly_rows() == 6
    Collector(conn, measure_host=False).collect()  # November 2025 is long past the window
    assert hourly_rows() == 0
