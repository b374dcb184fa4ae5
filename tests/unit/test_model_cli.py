"""``tenantcost model`` commands in every format, and scenario validation errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenantcost.errors import UserError
from tenantcost.model import load_scenario, shipped_scenario_names
from tenantcost.model.cli import app

runner = CliRunner(env={"COLUMNS": "300"})
ROOT = Path(__file__).resolve().parents[2]
SEED_TOML = (ROOT / "scenarios" / "seed-002.toml").read_text(encoding="utf-8")

COMMANDS = [
    ["cost"],
    ["cost", "railway-2025-11"],
    ["mix", "--mix", "b"],
    ["mix", "--counts", "FREE=700,STARTER=200,PRO=80,ENTERPRISE=20"],
    ["plans", "--mix", "per-100"],
    ["plans", "railway-2025-11"],
    ["sensitivity", "--vary", "conversion", "--vary", "tier-price:PRO"],
    ["compare-seed"],
]


@pytest.mark.parametrize("args", COMMANDS)
@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_every_command_in_every_format(args: list[str], fmt: str) -> None:
    result = runner.invoke(app, [*args, "--format", fmt])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        rows = json.loads(result.output)
        assert rows and all(isinstance(r, dict) for r in rows)
    elif fmt == "csv":
        assert len(list(csv.reader(io.StringIO(result.output)))) > 2


def test_mix_json_carries_section_4_totals() -> None:
    rows = json.loads(runner.invoke(app, ["mix", "--format", "json"]).output)
    totals = next(r for r in rows if r["line"] == "total (tiers)")
    assert totals["revenue"] == "5000.00"  # 200 x 5 + 80 x 25 + 20 x 100


def test_compare_seed_shows_each_claim_beside_the_computed_figure() -> None:
    rows = json.loads(runner.invoke(app, ["compare-seed", "--format", "json"]).output)
    row = next(r for r in rows if r["figure"] == "FREE query execution: vCPU")
    # 10 queries/day x 30 days x 0.05 s x 0.1 vCPU x $0.000002156/vCPU-s = 0.000003234,
    # printed at the column's one scale (12 decimals: its finest figure), the same every row
    computed = row["computed"]
    assert (row["seed_states"], computed, row["holds"]) == ("$0.0032", "0.000003234000", "NO")
    decimals = {len(r["computed"].partition(".")[2]) for r in rows if r["computed"][0].isdigit()}
    assert decimals == {12}
    total = next(r for r in rows if r["figure"] == "total monthly cost")
    assert total["seed_states"] == "$715.00" and total["holds"] == "NO"


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_sensitivity_writes_a_chart(tmp_path: Path, suffix: str) -> None:
    chart = tmp_path / f"margin{suffix}"
    result = runner.invoke(app, ["sensitivity", "--vary", "vcpu-price", "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    assert chart.stat().st_size > 1000


def test_shipped_scenarios_match_the_repository_copies() -> None:
    package = ROOT / "src" / "tenantcost" / "model" / "scenarios"
    for name in shipped_scenario_names():
        repo = (ROOT / "scenarios" / f"{name}.toml").read_text(encoding="utf-8")
        assert repo == (package / f"{name}.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("days_per_month = 30", "days_per_month = 30\nweeks = 4", "weeks: unknown key"),
        ("storage_gb = 2\n", "storage_gb = -2\n", "tiers[1].storage_gb: must be >= 0"),
        ("queries_per_day = 50\n", "", "tiers[1].queries_per_day: required but missing"),
        ("PRO = 8, ENTERPRISE = 2 }", "PRO = 9, ENTERPRISE = 2 }", "percent must sum to 100"),
        ("counts = { FREE = 850", "counts = { BASIC = 1, FREE = 850", "unknown tier BASIC"),
    ],
)
def test_bad_scenarios_name_the_problem(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in SEED_TOML
    path = tmp_path / "bad.toml"
    path.write_text(SEED_TOML.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_scenario(path)
    assert caught.value.message.startswith("bad.toml: ")
    assert message in caught.value.message


def test_bad_counts_and_unknown_names_are_user_errors() -> None:
    for args in (["mix", "--counts", "FREE=lots"], ["mix", "--mix", "nope"], ["cost", "nope"]):
        result = runner.invoke(app, args)
        assert isinstance(result.exception, UserError), args
