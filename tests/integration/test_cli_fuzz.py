"""Property-based fuzzing of the CLI's numeric and file inputs (issue 13, low items).

Every command gets odd numbers, times and TOML files from hypothesis and must end in exit
code 0 or 2 with at most one clear message, never a traceback. Bounded so CI stays fast:
few examples per property, no deadline, one migrated test database per property.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tenantcost.cli import app
from tenantcost.errors import UserError
from tenantcost.telemetry.cli import parse_duration

pytestmark = pytest.mark.db
runner = CliRunner()
FUZZ = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ODD = [
    "-0",
    "1_000",
    "1e-400",
    "1e30",
    "1E+999999",
    "NaN",
    "-Infinity",
    "٣",
    "\x00",
    "1\x00",
    "0x10",
    "99999999999999999999999999",
    "-99999999999",
    "",
    " ",
    "5.",
    "4.999",
    "$4.99",
    "1,000.00",
]

# Numbers as people and scripts mistype them: odd spellings, random text, any Decimal.
numbers = st.one_of(
    st.sampled_from(ODD),
    st.from_regex(r"-?[0-9_]{0,8}(\.[0-9_]{0,6})?([eE][-+]?[0-9]{1,4})?", fullmatch=True),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet=string.printable + "\x00٣é", max_size=12),
)
times = st.one_of(
    numbers,
    st.from_regex(r"[0-9]{1,5}-[0-9]{1,3}(-[0-9]{1,3}T[0-9]{1,3})?", fullmatch=True),
    st.datetimes().map(lambda d: d.isoformat()),
)


def clean(result: Result) -> None:
    """Exit 0 or 2; an error is one clear message, never a traceback."""
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture
def vps_id(use_database: str) -> str:
    with psycopg.connect(use_database) as conn:
        row = conn.execute(
            "INSERT INTO vps_instances (name, status) VALUES ('v', 'active') RETURNING id::text"
        ).fetchone()
    assert row is not None
    return str(row[0])


@FUZZ
@given(amount=numbers)
def test_costs_amounts(vps_id: str, amount: str) -> None:
    clean(invoke("costs", "set", "smtp_ip_monthly_cost", amount, "--reason", "fuzz"))
    clean(invoke("costs", "set", "tier_step_down_hours", amount, "--reason", "fuzz"))
    clean(invoke("costs", "override", "vps", vps_id, amount, "--reason", "fuzz"))
    clean(invoke("costs", "override", "ip", amount, "5", "--reason", "fuzz"))


@FUZZ
@given(price=numbers, ceiling=numbers, whole=numbers)
def test_tier_numbers(use_database: str, price: str, ceiling: str, whole: str) -> None:
    clean(invoke("tiers", "set", "FUZZ", "--price", price, "--cost-ceiling", ceiling,
                 "--reason", "fuzz"))  # fmt: skip
    clean(invoke("tiers", "set", "FUZZ", "--price", "5", "--cost-ceiling", "1", "--reason", "fuzz",
                 "--requests-per-hour", whole, "--latency-ms", whole, "--storage-gb", price,
                 "--margin-floor", ceiling))  # fmt: skip
    clean(invoke("tiers", "decisions", "--limit", whole))
    clean(invoke("tiers", "alerts", "--limit", whole))
    clean(invoke("tiers", "abuse", "--threshold", whole))
    clean(invoke("outbox", "list", "--limit", whole))
    clean(invoke("outbox", "retry", "--id", whole))


@FUZZ
@given(when=times, amount=numbers)
def test_periods_and_invoice_total(use_database: str, when: str, amount: str) -> None:
    clean(invoke("attribute", "--month", when))
    clean(invoke("attribute", "--hour", when))
    clean(invoke("attribute", "--month", "2025-11", "--invoice-total", amount))
    clean(invoke("tiers", "evaluate", "--hour", when))
    clean(invoke("report", "tenant-costs", "--month", when, "--top", amount))
    clean(invoke("report", "cost-drivers", "--month", when))


@FUZZ
@given(counts=numbers, values=numbers)
def test_model_numbers(counts: str, values: str) -> None:
    clean(invoke("model", "mix", "--counts", f"FREE={counts},PRO=3"))
    clean(invoke("model", "plans", "--counts", f"FREE=1,STARTER={counts}"))
    clean(invoke("model", "sensitivity", "--values", f"0,{values}"))
    clean(invoke("model", "sensitivity", "--vary", "vcpu_price", "--values", values))


@FUZZ
@given(text=numbers)
def test_durations(text: str) -> None:
    for given_text in (text, text + "s", text + "m", text + "h"):
        try:
            seconds = parse_duration(given_text)
        except UserError as exc:
            assert "\n" not in exc.message
        else:
            assert 1 <= seconds <= 86400


RATE_KEYS = ["vcpu_per_second", "vcpu_per_minute", "ram_gb_per_second", "storage_gb_month",
             "egress_gb", "dedicated_ip_month"]  # fmt: skip
toml_numbers = st.one_of(
    st.sampled_from(["1e30", "1e-400", "inf", "nan", "-0.0", "1_000", "-1", "0", "0.5", "+1.5"]),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: format(d, "f")),
    st.floats().map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet="0123456789.-+e_", min_size=1, max_size=10),
)


@FUZZ
@given(
    values=st.dictionaries(st.sampled_from(RATE_KEYS), toml_numbers, min_size=1),
    subscription=toml_numbers,
)
def test_price_book_files(tmp_path_factory: Any, values: dict[str, str], subscription: str) -> None:
    rates = {"vcpu_per_second": "0.000002", "ram_gb_per_second": "0.000001",
             "storage_gb_month": "0.25", "egress_gb": "0.10"}  # fmt: skip
    rates.update(values)
    text = "\n".join(
        [
            'name = "fuzz"',
            'provider = "fuzz"',
            'currency = "USD"',
            "effective_from = 2025-01-01",
            'source_url = "x"',
            "source_date = 2025-01-01",
            "[rates]",
            *(f"{k} = {v}" for k, v in rates.items()),
            "[[plans]]",
            'name = "P"',
            f"monthly_subscription = {subscription}",
            "included_usage_credit = 1",
        ]
    )
    path: Path = tmp_path_factory.mktemp("books") / "fuzz.toml"
    path.write_text(text, encoding="utf-8")
    for args in (["validate", str(path)], ["show", str(path)]):
        clean(invoke("pricebook", *args))


def test_the_properties_reach_both_outcomes(use_database: str) -> None:
    """The fuzz above is not vacuous: good input passes and odd input is refused (exit 2)."""
    ok: Callable[..., Result] = invoke
    assert ok("costs", "set", "smtp_ip_monthly_cost", "5.49", "--reason", "r").exit_code == 0
    refused = ok("costs", "set", "smtp_ip_monthly_cost", "1_000", "--reason", "r")
    assert refused.exit_code == 2 and "plain digits" in refused.output


@FUZZ
@given(content=st.binary(max_size=64))
def test_any_bytes_as_a_book_or_scenario_file(tmp_path_factory: Any, content: bytes) -> None:
    path: Path = tmp_path_factory.mktemp("files") / "any.toml"
    path.write_bytes(content)
    clean(invoke("pricebook", "validate", str(path)))
    clean(invoke("model", "cost", str(path)))


ODD_INPUTS = [
    # Inputs that ended in a traceback before (UnicodeDecodeError, date overflow, NUL bytes).
    ["pricebook", "validate", "{binary}"],
    ["pricebook", "list", "--dir", "{folder}"],
    ["model", "cost", "{binary}"],
    ["attribute", "--month", "0000-01"],
    ["attribute", "--month", "9999-12"],
    ["attribute", "--hour", "9999-12-31T23"],
    ["tiers", "evaluate", "--hour", "0001-01-01T00:00"],
    ["tiers", "evaluate", "--hour", "9999-12-31T23:59-14:00"],
    ["report", "tenant-costs", "--month", "9999-12"],
    ["model", "sensitivity", "--values", "0,1E+999999"],
    ["tenants", "map", "a\x00", "--shared"],
    ["tiers", "link", "\x00", "X", "--reason", "r"],
    ["costs", "override", "vps", "\x00", "5", "--reason", "r"],
    ["tiers", "decisions", "--limit", "99999999999999999999"],
    ["collect", "--every", "99999999h"],
    ["serve", "--interval", "inf"],  # would have crashed the jobs thread (timer overflow)
    ["demo", "load", "--tenants", "1_000"],
    ["tiers", "abuse", "--threshold", "-0"],
]


@pytest.mark.parametrize("args", ODD_INPUTS, ids=[" ".join(a)[:40] for a in ODD_INPUTS])
def test_odd_inputs_end_in_one_message(use_database: str, tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "b.toml").write_bytes(b"\x89PNG\x00\xff\xfe")
    values = {"binary": str(tmp_path / "b.toml"), "folder": str(tmp_path)}
    result = invoke(*(a.format(**values) for a in args))
    clean(result)
    assert result.exit_code == 2
    assert "error:" in result.output
