"""Ledger arithmetic by hand: bottom-up, proration, price-book boundaries, reconciliation."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from importlib.resources import files
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantcost.attribution.arith import (
    CENT,
    HourUsage,
    LedgerLine,
    UnitPrices,
    bottom_up,
    fixed_lines,
    reconcile,
    split_total,
)
from tenantcost.attribution.ledger import host_totals, reconciled_mode
from tenantcost.telemetry.timeutil import hours_in_month, month_period, parse_hour

A = UUID("00000000-0000-0000-0000-00000000000a")
B = UUID("00000000-0000-0000-0000-00000000000b")
H1 = datetime(2025, 11, 10, 9, tzinfo=UTC)
H2 = datetime(2025, 11, 20, 9, tzinfo=UTC)
# Railway's published rates: $0.000463/vCPU-minute, $0.000231/GB-minute, $0.15/GB-month, $0.05/GB
RAILWAY = UnitPrices(
    "railway-2025-11",
    Decimal("0.000463") / 60,
    Decimal("0.000231") / 60,
    Decimal("0.15"),
    Decimal("0.05"),
)
LATER = UnitPrices(
    "later", Decimal("0.00001"), Decimal("0.000005"), Decimal("0.20"), Decimal("0.10")
)


def test_bottom_up_by_hand() -> None:
    usage = [
        HourUsage(
            A,
            H1,
            compute_seconds=Decimal(600),  # 10 vCPU-minutes
            connection_seconds=Decimal(3600),  # one connection for the hour
            storage_bytes=Decimal(2 * 10**9),  # 2 GB held for the hour
            egress_bytes=Decimal(3 * 10**9),  # 3 GB sent
        )
    ]
    lines = {
        line.driver: line
        for line in bottom_up(
            usage,
            {H1: RAILWAY},
            memory_mb_per_connection=Decimal(10),
            hours_in_month={H1: 720},
        )
    }
    # compute: 600 s x 0.000463/60 = 10 x 0.000463 = 0.00463
    assert lines["compute"].amount == Decimal("0.004630000000")
    # memory: 3600 s x 10 MB / 1000 = 36 GB-s; 36 x 0.000231/60 = 0.0001386
    assert lines["memory"].quantity == Decimal(36)
    assert lines["memory"].amount == Decimal("0.000138600000")
    # storage: 2 GB for 1 of 720 hours = 2/720 GB-month; x 0.15 = 0.000416666666666… -> 12 dp
    assert lines["storage"].amount == Decimal("0.000416666667")
    # network: 3 GB x 0.05 = 0.15
    assert lines["network"].amount == Decimal("0.150000000000")
    assert lines["compute"].unit == "vCPU-second" and lines["storage"].unit == "GB-month"
    assert all(isinstance(line.amount, Decimal) for line in lines.values())


def test_new_price_book_inside_the_month_prices_each_side_with_its_book() -> None:
    usage = [
        HourUsage(A, H1, compute_seconds=Decimal(100)),  # before the new book
        HourUsage(A, H2, compute_seconds=Decimal(100)),  # after it
    ]
    lines = bottom_up(
        usage,
        {H1: RAILWAY, H2: LATER},
        memory_mb_per_connection=Decimal(10),
        hours_in_month={H1: 720, H2: 720},
    )
    by_book = {line.price_book: line.amount for line in lines}
    # 100 x 0.000463/60 = 0.000771666…67 ; 100 x 0.00001 = 0.001
    assert by_book == {
        "railway-2025-11": Decimal("0.000771666667"),
        "later": Decimal("0.001000000000"),
    }


def test_fixed_costs_are_prorated() -> None:
    hour = parse_hour("2025-11-21T10")
    lines = fixed_lines({A: (Decimal("72.00"), Decimal("4.99"))}, hour.month_fraction(), "bca")
    # November has 30 x 24 = 720 hours: 72.00 / 720 = 0.1; 4.99 / 720 = 0.006930555…
    assert hour.month_fraction() == Decimal(1) / Decimal(720)
    assert [line.amount for line in lines] == [Decimal("0.100000000000"), Decimal("0.006930555556")]
    month = fixed_lines(
        {A: (Decimal("72.00"), Decimal(0))}, month_period("2025-11").month_fraction(), "bca"
    )
    assert [(line.driver, line.amount) for line in month] == [("vps", Decimal("72.000000000000"))]


def test_hours_in_month() -> None:
    assert hours_in_month(datetime(2025, 2, 14, tzinfo=UTC)) == 28 * 24
    assert hours_in_month(datetime(2024, 2, 14, tzinfo=UTC)) == 29 * 24
    assert month_period("2025-12").end == datetime(2026, 1, 1, tzinfo=UTC)


def test_split_total_largest_remainder() -> None:
    # 1.00 over three equal weights: 0.33 each, one cent left for the first key in order
    parts = split_total(Decimal("1.00"), {"a": Decimal(1), "b": Decimal(1), "c": Decimal(1)}, CENT)
    assert parts == {"a": Decimal("0.34"), "b": Decimal("0.33"), "c": Decimal("0.33")}
    # 10.00 split 4:1 -> 8.00 / 2.00
    assert split_total(Decimal(10), {"x": Decimal(4), "y": Decimal(1)}, CENT) == {
        "x": Decimal("8.00"),
        "y": Decimal("2.00"),
    }


def test_reconcile_idle_is_the_rest() -> None:
    # host bill 5.00, tenants used 1.234 and 0.5 at list prices
    result = reconcile(Decimal("5.00"), {"a": Decimal("1.234"), "b": Decimal("0.5")})
    # attributed 1.734 -> 1.73 in cents, split 1.234 : 0.5 -> 1.23 / 0.50 ; idle 5.00 - 1.73
    assert result.amounts == {"a": Decimal("1.23"), "b": Decimal("0.50")}
    assert result.idle == Decimal("3.27")
    assert not result.exceeded and result.scale == 1


def test_reconcile_scales_down_when_attributed_exceeds_total() -> None:
    result = reconcile(Decimal("3.00"), {"a": Decimal("3.00"), "b": Decimal("1.00")})
    # attributed 4.00 > 3.00: scale 0.75 -> a 2.25, b 0.75, idle 0 (never negative)
    assert result.amounts == {"a": Decimal("2.25"), "b": Decimal("0.75")}
    assert result.idle == 0 and result.exceeded and result.scale == Decimal("0.75")


def test_reconcile_with_no_usage_is_all_idle() -> None:
    result = reconcile(Decimal("5.00"), {"a": Decimal(0)})
    assert result.amounts == {"a": Decimal(0)} and result.idle == Decimal("5.00")


amounts = st.decimals(
    min_value=0, max_value=10_000, places=6, allow_nan=False, allow_infinity=False
)


@given(
    total=st.decimals(
        min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False
    ),
    attributed=st.lists(amounts, min_size=1, max_size=30),
)
def test_reconciled_tenants_plus_idle_equal_the_total_to_the_cent(
    total: Decimal, attributed: list[Decimal]
) -> None:
    result = reconcile(total, dict(enumerate(attributed)), CENT)
    assert sum(result.amounts.values(), Decimal(0)) + result.idle == total
    assert result.idle >= 0
    assert all(v >= 0 and v == v.quantize(CENT) for v in result.amounts.values())
    if sum(attributed) > total:
        assert result.idle == 0


def _line(tenant: UUID, driver: str, amount: str) -> LedgerLine:
    return LedgerLine(tenant, driver, Decimal(1), "x", Decimal(amount), Decimal(amount), "book")


def test_reconciled_mode_with_invoice_has_one_idle_line() -> None:
    usage = [_line(A, "compute", "0.80"), _line(B, "compute", "0.20"), _line(A, "storage", "1.00")]
    fixed = [_line(A, "vps", "72.00")]
    mode = reconciled_mode(usage, fixed, invoice=Decimal("5.00"), measured=None)
    assert mode is not None
    idle = [line for line in mode.lines if line.line == "idle"]
    # attributed usage 2.00 of the 5.00 invoice -> idle 3.00; VPS passes through
    assert [(line.driver, line.amount) for line in idle] == [("invoice", Decimal("3.00"))]
    assert mode.host_total == Decimal("5.00") and mode.idle == Decimal("3.00")
    assert mode.total == Decimal("77.00")  # 5.00 host + 72.00 VPS
    assert sum(line.amount for line in mode.lines) == mode.total


def test_reconciled_mode_with_measured_host_per_driver() -> None:
    usage = [_line(A, "compute", "0.006"), _line(B, "network", "0.01")]
    measured = {"compute": Decimal("0.010"), "memory": Decimal("0.002"), "storage": Decimal(0)}
    mode = reconciled_mode(usage, [], invoice=None, measured=measured)
    assert mode is not None
    idle = {line.driver: line.amount for line in mode.lines if line.line == "idle"}
    # compute idle 0.010 - 0.006; memory nobody used: all idle; network = attributed, no idle
    assert idle == {"compute": Decimal("0.004"), "memory": Decimal("0.002")}
    assert mode.total == Decimal("0.022")


def test_host_totals_by_hand() -> None:
    host = {
        H1: {
            "cpu_seconds": Decimal(60),
            "memory_gb_seconds": Decimal(60),
            "storage_bytes": Decimal(10**9),
        }
    }
    totals = host_totals(host, {H1: RAILWAY})
    # 60 s x 0.000463/60 = 0.000463 ; 60 GB-s x 0.000231/60 = 0.000231 ; 1 GB / 720 h x 0.15
    assert totals["compute"] == Decimal("0.000463")
    assert totals["memory"] == Decimal("0.000231")
    assert totals["storage"].quantize(Decimal("1e-12")) == Decimal("0.000208333333")


def test_no_float_money_in_the_ledger_schema() -> None:
    """Money and quantities in the ledger tables are NUMERIC, never float types."""
    sql = (files("tenantcost.db.migrations") / "sql" / "0007_telemetry.up.sql").read_text()
    for table in (
        "tenant_cost_ledger",
        "tenant_cost_totals",
        "host_invoices",
        "tenant_usage_hourly",
    ):
        body = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\)", sql, re.S)
        assert body is not None, table
        assert not re.search(r"\b(double precision|real|float\d?|money)\b", body.group(1), re.I), (
            table
        )
    attribution_sql = (files("tenantcost.attribution") / "queries.sql").read_text()
    assert not re.search(r"::(float|double|real)", attribution_sql, re.I)


@pytest.mark.parametrize("bad", ["2025-13", "25-11", "2025/11"])
def test_bad_months_are_user_errors(bad: str) -> None:
    from tenantcost.errors import UserError

    with pytest.raises(UserError):
        month_period(bad)
