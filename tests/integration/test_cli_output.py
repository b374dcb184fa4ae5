"""What the CLI prints on a real database: JSON and CSV of every report round-trip, empty
results say so, UUID lists never crash or show a repr, hostile company names stay data."""

from __future__ import annotations

import csv
import io
import json
import uuid
from decimal import Decimal

import psycopg
import pytest
from typer.testing import CliRunner, Result

from tenantcost.cli import app

pytestmark = pytest.mark.db

HYPERLINK = '=HYPERLINK("http://x")'
MARKUP = "[/x] Bolt [link=http://evil.example]click[/link]"

#: Every report command that reads the database, with the line it prints when empty.
REPORTS: list[tuple[list[str], str | None]] = [
    (["tiers", "list"], None),
    (["tiers", "decisions"], "no tier decisions"),
    (["tiers", "decisions", "--active"], "no active tier decisions"),
    (["tiers", "alerts"], "no alerts"),
    (["tiers", "abuse"], "no signup email domain or IP shared by 3 or more FREE tenants"),
    (["users", "list"], "no dashboard users"),
    (["tenants", "list"], None),
    (["pricebook", "list", "--stored"], "no price book is stored"),
    (["costs", "settings"], None),
]


def invoke(args: list[str], columns: int = 80) -> Result:
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, (args, result.output)
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize(("args", "empty"), REPORTS, ids=lambda a: " ".join(a) if a else "")
def test_every_report_round_trips_and_an_empty_one_says_so(
    use_database: str, args: list[str], empty: str | None
) -> None:
    rows = json.loads(invoke([*args, "--format", "json"]).stdout)
    assert isinstance(rows, list)
    parsed = list(csv.reader(io.StringIO(invoke([*args, "--format", "csv"]).stdout)))
    assert parsed and parsed[0] and all(parsed[0]), parsed  # the header, also when empty
    assert all(len(line) == len(parsed[0]) for line in parsed)
    if empty is not None:  # these are empty on a fresh database
        assert rows == [] and len(parsed) == 1
        assert empty in invoke([*args, "--format", "json"]).stderr
        table = invoke(args).stdout
        assert empty in table and table.strip()  # one human line, never a blank one


@pytest.fixture
def hostile(use_database: str) -> dict[str, uuid.UUID]:
    """Three FREE tenants sharing a signup domain, named like an attacker would."""
    names = {HYPERLINK: uuid.uuid4(), MARKUP: uuid.uuid4(), "Plain Co": uuid.uuid4()}
    with psycopg.connect(use_database) as conn:
        conn.execute("INSERT INTO plans (name, price_monthly) VALUES ('Free', 0)")
        conn.execute("INSERT INTO plan_tiers SELECT id, 'FREE' FROM plans WHERE name = 'Free'")
        for name, tenant in names.items():
            conn.execute("INSERT INTO companies (id, name) VALUES (%s, %s)", (tenant, name))
            conn.execute(
                "INSERT INTO subscriptions (tenant_id, plan_id, status, current_period_start, "
                "current_period_end) SELECT %s, id, 'active', now() - interval '1 day', "
                "now() + interval '29 days' FROM plans WHERE name = 'Free'",
                (tenant,),
            )
            conn.execute(
                "INSERT INTO tenant_signups VALUES (%s, 'tempbox.test', '198.51.100.7')", (tenant,)
            )
    for name in names:
        invoke(["tenants", "map", str(names[name]), "--shared"])
    return names


def test_abuse_lists_tenant_ids_as_text_in_every_format(hostile: dict[str, uuid.UUID]) -> None:
    ids = sorted(str(t) for t in hostile.values())
    rows = json.loads(invoke(["tiers", "abuse", "--format", "json"]).stdout)
    assert [(r["signal"], r["tenants"], r["tenant_ids"]) for r in rows] == [
        ("email_domain", 3, ids),
        ("signup_ip", 3, ids),
    ]
    assert rows[0]["combined_cost"] == "0"  # no cost booked for them
    parsed = list(csv.DictReader(io.StringIO(invoke(["tiers", "abuse", "--format", "csv"]).stdout)))
    assert parsed[0]["tenant_ids"] == ", ".join(ids)
    for width in (80, 200):
        table = invoke(["tiers", "abuse"], width).stdout
        assert "UUID(" not in table and "[" not in table
        assert all(i[:8] in table for i in ids)  # ids shortened to 8 characters in tables


def test_hostile_company_names_are_data_in_tables_and_safe_in_csv(
    hostile: dict[str, uuid.UUID],
) -> None:
    wide = invoke(["tenants", "list"], 200).stdout
    assert MARKUP in wide and HYPERLINK in wide  # printed literally, nothing swallowed
    narrow = invoke(["tenants", "list"], 80).stdout  # names wrap in a narrow column
    assert "[/x]" in narrow and "[link=http://evil.example]" in "".join(narrow.split())
    chosen = invoke(["tenants", "list", "--columns", "company_name,kind"], 80).stdout
    assert MARKUP in chosen and HYPERLINK in chosen
    rows = list(csv.DictReader(io.StringIO(invoke(["tenants", "list", "--format", "csv"]).stdout)))
    names = {r["company_name"] for r in rows}
    assert names == {"'" + HYPERLINK, MARKUP, "Plain Co"}
    raw = json.loads(invoke(["tenants", "list", "--format", "json"]).stdout)
    assert {r["company_name"] for r in raw} == set(hostile)  # JSON stays raw
    assert {r["tenant_id"] for r in raw} == {str(t) for t in hostile.values()}  # full ids


def test_users_list_says_yes_and_no_not_true_and_false(use_database: str) -> None:
    result = CliRunner().invoke(
        app, ["users", "add", "grafana", "--role", "analyst", "--token"], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    table = invoke(["users", "list"]).stdout
    assert "True" not in table and "False" not in table
    assert "yes" in table and "no" in table
    row = json.loads(invoke(["users", "list", "--format", "json"]).stdout)[0]
    assert (row["has_token"], row["has_password"]) == (True, False)


def test_tiers_list_at_80_and_200_columns_shows_every_figure_whole(use_database: str) -> None:
    rows = json.loads(invoke(["tiers", "list", "--format", "json"]).stdout)
    # the shipped tiers: FREE $0 / STARTER $5 / PRO $25 / ENTERPRISE $100 with cost ceilings
    # $0.20 / $1 / $5 / $25 (README "Tier economics"), shown to people in cents
    expected = {"$0.00", "$5.00", "$25.00", "$100.00", "$0.20", "$1.00"}
    assert {r["name"] for r in rows} >= {"FREE", "STARTER", "PRO", "ENTERPRISE"}
    for width in (80, 200):
        table = invoke(["tiers", "list"], width).stdout
        assert "…" not in table
        assert max(len(line) for line in table.splitlines()) <= width
        for figure in expected:
            assert figure in table, (width, figure, table)
    assert Decimal(next(r for r in rows if r["name"] == "PRO")["cost_ceiling"]) == Decimal(5)
