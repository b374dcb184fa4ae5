"""Pure parts of the dashboard: hashing, table parameters, money text, FOCUS periods, metrics."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tenantcost.errors import UserError
from tenantcost.report.rollup import resolve_month
from tenantcost.web import metrics
from tenantcost.web.data import margin_percent
from tenantcost.web.render import fmt_cell, fmt_money, jsonable
from tenantcost.web.security import hash_password, new_token, same, sha256_hex, verify_password
from tenantcost.web.tables import HEALTH_TABLE, parse_query
from tenantcost.web.whatif import parse_inputs


def test_password_hash_round_trip_and_salting() -> None:
    first, second = hash_password("a long passphrase"), hash_password("a long passphrase")
    assert first != second  # fresh salt each time
    assert first.startswith("scrypt$16384$8$1$")
    assert verify_password("a long passphrase", first)
    assert not verify_password("a long passphrasE", first)
    assert not verify_password("x", None)
    assert not verify_password("x", "md5$garbage")


def test_tokens_are_random_and_only_their_hash_is_kept() -> None:
    token = new_token()
    assert token.startswith("tc_") and len(token) > 40 and token != new_token()
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert same("a", "a") and not same("a", "b") and not same(None, "a") and not same("", "")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort": "password"}, "cannot sort"),
        ({"order": "up"}, "asc or desc"),
        ({"page": "0"}, "1 or more"),
        ({"page": "two"}, "whole number"),
        ({"per_page": "501"}, "above 500"),
    ],
)
def test_table_parameters_are_checked(params: dict[str, str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_query(HEALTH_TABLE, params, "2026-11")


def test_table_defaults() -> None:
    q = parse_query(HEALTH_TABLE, {}, "2026-11")
    assert (q.period, q.sort, q.order, q.page, q.per_page, q.plan, q.health) == (
        "2026-11",
        "cost_efficiency_score",
        "desc",
        1,
        50,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1234.565"), "$1,234.57"),  # half up
        (Decimal("-4.99"), "−$4.99"),
        (Decimal("0"), "$0.00"),
        (None, ""),
    ],
)
def test_money_text(value: Decimal | None, text: str) -> None:
    assert fmt_money(value) == text


def test_cells_pick_money_by_column_word() -> None:
    assert fmt_cell("total_operational_cost", Decimal("4.99")) == "$4.99"  # not a "ratio"
    assert fmt_cell("gross_margin_ratio", Decimal("2.86")) == "2.86"
    assert fmt_cell("cost_per_email_delivered", Decimal("0.0123")) == "$0.0123"


def test_json_money_is_a_string_with_one_scale_and_no_exponent() -> None:
    assert jsonable({"a": [Decimal("1.10")]}) == {"a": ["1.100000"]}
    assert jsonable(Decimal("3.9168E-8")) == "0.000000"
    assert jsonable(Decimal("1.19E+3")) == "1190.000000"
    assert jsonable(Decimal("14.970000000000")) == "14.970000"


def test_margin() -> None:
    assert margin_percent(Decimal(200), Decimal("69.98")) == Decimal("65.01")
    assert margin_percent(Decimal(0), Decimal(5)) is None


def test_focus_months() -> None:
    def latest(_conn: object) -> str:
        return "2026-11"

    def nothing(_conn: object) -> None:
        return None

    conn: Any = None  # the given month and the default function need no database
    assert resolve_month(conn, "2026-02", nothing) == "2026-02"
    assert resolve_month(conn, None, latest) == "2026-11"
    with pytest.raises(UserError, match="not YYYY-MM"):
        resolve_month(conn, "2026-13", latest)
    with pytest.raises(UserError, match="attributed"):
        resolve_month(conn, None, nothing)


def test_metrics_text_format() -> None:
    text = metrics.render(
        [
            {
                "plan_name": 'Pro "x"',
                "tenants": 2,
                "revenue": Decimal("10.00"),
                "cost": Decimal(1),
                "margin_pct": None,
            }
        ],
        {"refresh_rollups": {"runs": 3, "errors": 1, "last_success": 100.0}},
        collector_configured=False,
        rollup_age_seconds=None,
        now=160.5,
    )
    assert 'tenantcost_plan_tenants{plan="Pro \\"x\\""} 2\n' in text
    assert 'tenantcost_plan_gross_margin_percent{plan="Pro \\"x\\""} NaN\n' in text
    assert "tenantcost_rollup_age_seconds NaN\n" in text
    assert 'tenantcost_job_errors_total{job="refresh_rollups"} 1\n' in text
    assert 'tenantcost_job_lag_seconds{job="refresh_rollups"} 60.5\n' in text
    assert "# TYPE tenantcost_job_runs_total counter\n" in text


def test_whatif_inputs_are_validated() -> None:
    _, inputs = parse_inputs({"price_PRO": "30", "count_FREE": "10"})
    assert inputs.prices["PRO"] == Decimal(30) and inputs.counts["FREE"] == 10
    assert inputs.counts["STARTER"] == 200  # the scenario's own mix
    for bad in ({"count_PRO": "1.5"}, {"price_PRO": "-1"}, {"vcpu_multiplier": "abc"}):
        with pytest.raises(UserError):
            parse_inputs(bad)
    with pytest.raises(UserError, match="no scenario"):
        parse_inputs({"scenario": "../../etc/passwd"})


class _Conn:
    """What the pool's check touches of a connection: autocommit and an empty query."""

    autocommit = True

    def __init__(self) -> None:
        self.pings = 0

    def execute(self, query: str) -> None:
        assert query == ""
        self.pings += 1


def test_the_pool_checks_a_connection_unless_it_was_given_back_just_now(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tenantcost.web import app

    now = [100.0]
    monkeypatch.setattr(app.time, "monotonic", lambda: now[0])
    check, conn = app.PoolCheck(recent=1.0), _Conn()
    check.check(conn)  # type: ignore[arg-type]  # never given back: checked
    assert conn.pings == 1
    check.returned(conn)  # type: ignore[arg-type]
    now[0] += 0.5
    check.check(conn)  # type: ignore[arg-type]  # given back 0.5 s ago: used as it is
    assert conn.pings == 1
    check.returned(conn)  # type: ignore[arg-type]
    now[0] += 1.0
    check.check(conn)  # type: ignore[arg-type]  # idle 1 s: checked again
    assert conn.pings == 2
    check.check(conn)  # type: ignore[arg-type]  # not given back since: checked
    assert conn.pings == 3
