"""Cost model arithmetic by hand: accrual, reconciliation, overhead spreading, host totals."""

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
    LedgerLine,
    accrual_fraction,
    reconcile,
    split_total,
)
from tenantcost.attribution.ledger import host_totals, overhead_lines, reconciled_usage
from tenantcost.pricing.book import find_price_book
from tenantcost.telemetry.timeutil import hours_in_month, month_period

A = UUID("00000000-0000-0000-0000-00000000000a")
B = UUID("00000000-0000-0000-0000-00000000000b")
H1 = datetime(2025, 11, 10, 9, tzinfo=UTC)
RAILWAY = find_price_book("railway-2025-11")


def test_accrual_fraction_by_hand() -> None:
    nov = month_period("2025-11")  # 30 days = 720 hours
    assert accrual_fraction(nov.start, nov.end, datetime(2025, 11, 16, tzinfo=UTC)) == Decimal(
        15
    ) / Decimal(30)
    assert accrual_fraction(nov.start, nov.end, datetime(2025, 12, 5, tzinfo=UTC)) == 1
    assert accrual_fraction(nov.start, nov.end, datetime(2025, 10, 5, tzinfo=UTC)) == 0
    # 9 hours into November: 9 / 720
    assert accrual_fraction(nov.start, nov.end, datetime(2025, 11, 1, 9, tzinfo=UTC)) == Decimal(
        9
    ) / Decimal(720)


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
    # host bill 5.00, tenants used 1.234 and 0.5 at list prices: they keep them, idle the rest
    result = reconcile(Decimal("5.00"), {"a": Decimal("1.234"), "b": Decimal("0.5")})
    assert result.amounts == {"a": Decimal("1.234"), "b": Decimal("0.5")}
    assert result.idle == Decimal("3.266")
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


def _line(tenant: UUID | None, driver: str, amount: str, line: str = "tenant") -> LedgerLine:
    return LedgerLine(line, tenant, driver, "src", "measured", Decimal(1), "x", Decimal(amount))


def test_invoice_basis_has_one_idle_line() -> None:
    usage = [_line(A, "compute", "0.80"), _line(B, "compute", "0.20"), _line(A, "storage", "1.00")]
    lines, basis, host, scale, _ = reconciled_usage(usage, invoice=Decimal("5.00"), measured=None)
    idle = [(x.driver, x.amount) for x in lines if x.line == "idle"]
    # attributed usage 2.00 of the 5.00 invoice -> one idle line of 3.00
    assert basis == "invoice" and host == Decimal("5.00") and scale == 1
    assert idle == [("usage", Decimal("3.00"))]
    assert sum(x.amount for x in lines) == Decimal("5.00")


def test_measured_host_basis_per_driver() -> None:
    usage = [
        _line(A, "compute", "0.006"),
        _line(None, "compute", "0.001", "background"),
        _line(B, "network", "0.01"),
    ]
    measured = {"compute": Decimal("0.010"), "memory": Decimal("0.002"), "storage": Decimal(0)}
    lines, basis, host, _, _ = reconciled_usage(usage, invoice=None, measured=measured)
    idle = {x.driver: x.amount for x in lines if x.line == "idle"}
    # compute idle 0.010 - 0.006 - 0.001 background; memory nobody used: all idle; network has
    # no host figure: its total is what was attributed, no idle
    assert basis == "host_measured"
    assert idle == {"compute": Decimal("0.003"), "memory": Decimal("0.002")}
    assert host == Decimal("0.022")
    assert sum(x.amount for x in lines) == Decimal("0.022")


def test_no_host_total_keeps_list_prices() -> None:
    usage = [_line(A, "compute", "0.5")]
    lines, basis, host, _, _ = reconciled_usage(usage, invoice=None, measured=None)
    assert basis == "list_prices" and host is None and lines == usage


def test_overhead_spread_even_and_by_usage() -> None:
    lines = [
        _line(A, "compute", "3.00"),
        _line(B, "compute", "1.00"),
        _line(None, "usage", "2.00", "idle"),
        _line(None, "platform_overhead", "1.00", "control_plane"),
    ]
    # pool 3.00 (idle 2.00 + control plane 1.00): even -> 1.50 each; usage 3:1 -> 2.25 / 0.75
    even = {
        x.tenant_id: x.amount
        for x in overhead_lines(lines, [A, B], "even")
        if x.driver == "platform_overhead"
    }
    assert even == {A: Decimal("1.50"), B: Decimal("1.50")}
    by_usage = overhead_lines(lines, [A, B], "usage")
    assert {x.tenant_id: x.amount for x in by_usage if x.driver == "platform_overhead"} == {
        A: Decimal("2.25"),
        B: Decimal("0.75"),
    }
    assert not any(x.line in ("idle", "control_plane") for x in by_usage)
    assert sum(x.amount for x in by_usage) == sum(x.amount for x in lines)
    assert overhead_lines(lines, [A, B], "none") == lines


def test_host_totals_by_hand() -> None:
    host = {
        H1: {
            "cpu_seconds": Decimal(60),
            "memory_gb_seconds": Decimal(60),
            "storage_bytes": Decimal(10**9),
        }
    }
    totals = host_totals(host, [RAILWAY], "railway")
    # 60 s x 0.000463/60 = 0.000463 ; 60 GB-s x 0.000231/60 = 0.000231 ; 1 GB / 720 h x 0.15
    assert totals["compute"] == Decimal("0.000463")
    assert totals["memory"] == Decimal("0.000231")
    assert totals["storage"] == Decimal("0.000208333333")


def test_no_float_money_in_the_ledger_schema() -> None:
    """Money and quantities in the ledger tables are NUMERIC, never float types."""
    root = files("tenantcost.db.migrations") / "sql"
    sql = (root / "0007_telemetry.up.sql").read_text() + (
        root / "0010_cost_model.up.sql"
    ).read_text()
    for table in (
        "tenant_cost_ledger",
        "tenant_cost_periods",
        "tenant_cost_daily",
        "tenant_cost_hourly",
        "tenant_period_figures",
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
