"""What people and machines see: money formats, CSV safety, markup, tables that fit."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from tenantcost.errors import UserError
from tenantcost.money import csv_safe, money_text, number_text, plain
from tenantcost.output import (
    VIEW,
    OutputFormat,
    View,
    emit,
    render_csv,
    render_json,
)
from tenantcost.web.render import csv_text, fmt_cell, fmt_money, jsonable

EXPONENT = re.compile(r"[0-9][eE][-+]?[0-9]")

decimals = st.decimals(allow_nan=False, allow_infinity=False)


def table_text(rows: list[dict[str, Any]], width: int, **kwargs: Any) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    emit(rows, OutputFormat.table, console=console, **kwargs)
    return console.export_text()


# ----------------------------------------------------------------------------- money


@settings(max_examples=300, deadline=None)
@given(decimals, st.integers(min_value=0, max_value=12))
def test_no_decimal_ever_prints_in_exponent_form(value: Decimal, places: int) -> None:
    rows = [{"total_cost": value, "ratio": value, "n": 1}]
    outputs = [
        plain(value),
        plain(value, places),
        money_text(value, places),
        number_text(value),
        render_json(rows),
        render_json(rows, places={"total_cost": places}),
        render_csv(rows),
        render_csv(rows, places={"ratio": places}),
        json.dumps(jsonable({"x": [value], "rows": rows})),
        csv_text(rows, ["total_cost", "ratio"]),
        fmt_money(value),
        fmt_cell("total_cost", value),
        fmt_cell("gross_margin_ratio", value),
        table_text(rows, 200),
    ]
    for text in outputs:
        assert not EXPONENT.search(text), text


def test_the_examples_from_the_issue_print_plain() -> None:
    assert plain(Decimal("3.9168E-8")) == "0.000000039168"
    assert plain(Decimal("0E-6")) == "0.000000"
    assert plain(Decimal("1.19E-8"), 12) == "0.000000011900"
    assert plain(Decimal("-0.001"), 2) == "0.00"  # never "-0.00"


def test_people_see_cents_half_up_and_a_tiny_amount_as_below_a_cent() -> None:
    assert money_text(Decimal("1234.565")) == "$1,234.57"
    assert money_text(Decimal("0.004999")) == "<$0.01"  # below half a cent, not zero
    assert money_text(Decimal("0.005")) == "$0.01"  # half a cent rounds up
    assert money_text(Decimal("-0.004")) == ">−$0.01"
    assert money_text(Decimal(0)) == "$0.00"
    assert money_text(Decimal("0.01234"), 4) == "$0.0123"  # cost per email


def test_machines_get_one_scale_per_column() -> None:
    rows = [
        {"cost": Decimal("14.970000000000"), "per_email": Decimal("0.0123")},
        {"cost": Decimal("0"), "per_email": Decimal("3.9168E-8")},
        {"cost": Decimal("0.000008981112"), "per_email": None},
    ]
    got = json.loads(render_json(rows, places={"per_email": 4}))
    # cost: the finest value has 12 decimals, so every row has 12
    assert [r["cost"] for r in got] == ["14.970000000000", "0.000000000000", "0.000008981112"]
    # per_email declares 4: 0.0123 and 0.000000039168 -> 0.0000 (half up), None stays null
    assert [r["per_email"] for r in got] == ["0.0123", "0.0000", None]
    parsed = list(csv.DictReader(io.StringIO(render_csv(rows, places={"per_email": 4}))))
    assert [r["cost"] for r in parsed] == ["14.970000000000", "0.000000000000", "0.000008981112"]


def test_api_json_has_one_scale_for_every_decimal() -> None:
    payload = {"rows": [{"cost": Decimal("1.5")}, {"cost": Decimal("0.25"), "x": [Decimal(1)]}]}
    assert jsonable(payload) == {
        "rows": [{"cost": "1.500000"}, {"cost": "0.250000", "x": ["1.000000"]}]
    }
    assert jsonable(Decimal("-0.0000001")) == "0.000000"  # never -0


# ----------------------------------------------------------------------------- no repr


def test_uuids_lists_and_booleans_never_show_a_python_repr() -> None:
    ids = [
        UUID("3c9d0000-0000-0000-0000-000000000001"),
        UUID("4d000000-0000-0000-0000-0000000000ff"),
    ]
    rows = [{"tenant_ids": ids, "has_token": True, "active": False}]
    got = json.loads(render_json(rows))
    assert got == [
        {
            "tenant_ids": [str(ids[0]), str(ids[1])],
            "has_token": True,
            "active": False,
        }
    ]
    text = render_csv(rows)
    assert "UUID(" not in text and "True" not in text
    assert next(csv.DictReader(io.StringIO(text)))["tenant_ids"] == f"{ids[0]}, {ids[1]}"
    table = table_text(rows, 80)
    assert "UUID(" not in table and "True" not in table and "False" not in table
    assert "3c9d0000, 4d000000" in table  # ids shortened to 8 characters in tables
    assert "yes" in table and "no" in table


def test_empty_results_print_a_line_json_brackets_and_the_csv_header(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit([], OutputFormat.json, columns=["kind", "subject"], empty="no alerts")
    out, err = capsys.readouterr()
    assert json.loads(out) == [] and err.strip() == "no alerts"
    emit([], OutputFormat.csv, columns=["kind", "subject"], empty="no alerts")
    out, err = capsys.readouterr()
    assert list(csv.reader(io.StringIO(out))) == [["kind", "subject"]]
    assert err.strip() == "no alerts"
    assert table_text([], 80, empty="no alerts").strip() == "no alerts"


# ----------------------------------------------------------------------------- injection

HOSTILE = '=HYPERLINK("http://x","click")'


def test_csv_neutralises_formulas_in_text_but_never_touches_numbers() -> None:
    rows = [
        {"company_name": HOSTILE, "monthly_profit": Decimal("-4.99"), "n": -3},
        {"company_name": "+cmd", "monthly_profit": Decimal("1"), "n": 1},
        {"company_name": "@SUM(A1)", "monthly_profit": None, "n": 0},
        {"company_name": "-2+3", "monthly_profit": Decimal("0"), "n": 0},
        {"company_name": "\tTab", "monthly_profit": Decimal("0"), "n": 0},
        {"company_name": "Acme", "monthly_profit": Decimal("0"), "n": 0},
    ]
    for text in (render_csv(rows), csv_text(rows, ["company_name", "monthly_profit", "n"])):
        parsed = list(csv.DictReader(io.StringIO(text)))
        assert [r["company_name"] for r in parsed] == [
            "'" + HOSTILE,
            "'+cmd",
            "'@SUM(A1)",
            "'-2+3",
            "'\tTab",
            "Acme",
        ]
        assert parsed[0]["monthly_profit"] == "-4.99" and parsed[0]["n"] == "-3"
    assert json.loads(render_json(rows))[0]["company_name"] == HOSTILE  # JSON stays raw
    assert csv_safe("\rx") == "'\rx" and csv_safe("a=b") == "a=b"


@pytest.mark.parametrize("name", ["[/x] Acme", "[link=http://evil.example]Acme[/link]", "[bold]"])
def test_company_names_are_never_markup(name: str) -> None:
    console = Console(width=80, record=True, file=io.StringIO(), force_terminal=True)
    emit([{"company_name": name, "monthly_profit": Decimal("1")}], console=console, title=name)
    text = console.export_text()
    assert text.count(name) == 2  # title and cell, literally
    assert "\x1b]8;" not in console.file.getvalue()  # type: ignore[attr-defined]  # no link


# ----------------------------------------------------------------------------- fitting


def wide_rows(n: int) -> list[dict[str, Any]]:
    """Rows like ``report health``: wide names and big money figures."""
    return [
        {
            "tenant_id": UUID(int=i + 1),
            "company_name": f"Penguin Mail Company Number {i}",
            "plan_name": "Enterprise Annual",
            "business_health_status": "Critical Action Required",
            "cost_efficiency_score": Decimal(i % 100),
            "gross_margin_ratio": Decimal("12.34"),
            "monthly_subscription_revenue": Decimal("123456.785") + i,
            "total_operational_cost": Decimal("98765.4321"),
            "monthly_profit": Decimal("-24691.35") - i,
        }
        for i in range(n)
    ]


def test_at_80_columns_every_shown_figure_is_whole_and_a_note_names_the_rest() -> None:
    rows = wide_rows(3)
    text = table_text(rows, 80, places={"monthly_profit": 2})
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text
    # after id, name and status, money: revenue 123456.785 + i -> $123,456.79 (half up),
    # cost 98765.4321 -> $98,765.43; the profit no longer fits and is named instead
    for i in range(3):
        assert f"${123456 + i:,}.79" in text
    assert "$98,765.43" in text and "Critical" in text
    assert "not shown (terminal 80 columns wide):" in text and "monthly_profit" in text
    # at 100 columns the profit fits too: -24691.35 - i, with a minus sign
    wider = table_text(rows, 100, places={"monthly_profit": 2})
    for i in range(3):
        assert f"−${24691 + i:,}.35" in wider
    assert "Penguin" in text  # an id column keeps a name beside it
    flat = " ".join(text.split())
    assert "legend:" in flat and "mo sub revenue = monthly_subscription_revenue" in flat


def test_at_200_columns_everything_fits_in_full() -> None:
    text = table_text(wide_rows(3), 200)
    assert "not shown" not in text and "…" not in text
    assert "Penguin Mail Company Number 2" in text and "Critical Action Required" in text
    assert "00000000" in text  # UUID(int=1) shortened to its first 8 characters
    assert str(UUID(int=1)) not in text


def test_long_tables_show_50_rows_with_a_note_and_top_changes_it() -> None:
    rows = wide_rows(189)
    text = table_text(rows, 200)
    assert "showing 50 of 189 rows; --top 0 for all" in text
    assert "Number 49" in text and "Number 50" not in text
    token = VIEW.set(View(top=0))
    try:
        assert "Number 188" in table_text(rows, 200)
    finally:
        VIEW.reset(token)


def test_columns_and_wide_choose_what_is_shown() -> None:
    token = VIEW.set(View(columns=("monthly_profit", "company_name")))
    try:
        text = table_text(wide_rows(2), 80)
        header = text.splitlines()[0]
        assert header.index("profit") < header.index("company")
        assert "plan" not in text and "not shown" not in text
    finally:
        VIEW.reset(token)
    token = VIEW.set(View(columns=("nope",)))
    try:
        with pytest.raises(UserError, match="no column named nope"):
            table_text(wide_rows(2), 80)
    finally:
        VIEW.reset(token)
    token = VIEW.set(View(wide=True))
    try:
        text = table_text(wide_rows(2), 80)
        assert "not shown" not in text and "Critical Action Required" in text
    finally:
        VIEW.reset(token)


def test_one_wide_record_is_shown_vertically() -> None:
    text = table_text(wide_rows(1), 80)
    assert "not shown" not in text
    assert "monthly_subscription_revenue" in text and "$123,456.79" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_source_that_is_a_warning_is_printed_once() -> None:
    from tenantcost.telemetry.cli import pass_notes

    missing = "unavailable: the pg_stat_statements extension is not created in this database"
    lines = [t.plain for t in pass_notes({"statements": missing, "host": "psutil"}, [missing])]
    assert lines == [f"warning: statements: {missing}", "host: psutil"]
    assert sum(missing in line for line in lines) == 1


def test_hourly_pricing_note_carries_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    import tenantcost.attribution.hours as hours

    def no_book(*args: Any, **kwargs: Any) -> None:
        from tenantcost.errors import UserError

        raise UserError(
            "no price book for provider 'railway' is stored",
            "import one: `tenantcost pricebook import railway-2025-11`",
        )

    monkeypatch.setattr(hours, "attribute_period", no_book)
    hour = datetime(2026, 12, 1, 14, tzinfo=UTC)
    note = hours.price_pass_hours(None, [hour])  # type: ignore[arg-type]
    assert note is not None and note.startswith("hourly pricing skipped: no price book")
    assert "fix: import one: `tenantcost pricebook import railway-2025-11`" in note


def test_integers_get_separators_unless_they_are_labels() -> None:
    text = table_text([{"port": 43065, "queries_month": 30000, "pid": 12345}], 80)
    assert "43065" in text and "12345" in text and "30,000" in text


def test_asked_for_columns_wider_than_the_terminal_are_never_cut() -> None:
    token = VIEW.set(View(columns=("monthly_subscription_revenue", "total_operational_cost")))
    try:
        text = table_text(wide_rows(2), 20)
    finally:
        VIEW.reset(token)
    assert "…" not in text
    # 123456.785 + 1 -> $123,457.79; 98765.4321 -> $98,765.43, whole even at 20 columns
    assert "$123,457.79" in text and "$98,765.43" in text


def test_the_one_pass_csv_writes_what_csv_cell_writes_at_the_column_scales() -> None:
    """render_csv's fast paths (text, Decimals, ints, UUIDs) print exactly what the general
    ``csv_cell`` prints at each column's fixed scale, for every kind of cell."""
    import uuid
    from datetime import UTC, datetime

    from tenantcost.output import csv_cell, scales

    rows = [
        {
            "name": "=cmd()",
            "amount": Decimal("1.5"),
            "n": 3,
            "id": uuid.UUID(int=7),
            "flag": True,
            "when": datetime(2026, 12, 1, tzinfo=UTC),
            "tags": ["a", "b"],
            "ratio": Decimal("0.123456"),
        },
        {
            "name": "plain",
            "amount": Decimal("-0.000"),
            "n": -4,
            "id": None,
            "flag": False,
            "when": None,
            "tags": [],
            "ratio": Decimal("2"),
        },
        {
            "name": "",
            "amount": Decimal("1E+2"),
            "n": 0,
            "id": uuid.UUID(int=8),
            "flag": None,
            "when": None,
            "tags": None,
            "ratio": Decimal("NaN"),
        },
        {"name": "-1", "amount": Decimal("12.345678"), "ratio": Decimal("-0.0000001")},
    ]
    columns = ["name", "amount", "n", "id", "flag", "when", "tags", "ratio"]
    for places in (None, {"ratio": 2}, {"amount": 3, "ratio": 0}):
        fixed = scales(rows, columns, places)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell(row.get(c), fixed[c]) for c in columns])
        assert render_csv(rows, columns, places) == buffer.getvalue()
