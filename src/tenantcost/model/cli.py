"""``tenantcost model``: what-if cost, mix, plan, sensitivity and seed-check reports."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from tenantcost.errors import UserError
from tenantcost.model.engine import MixResult, mix_result, tier_costs
from tenantcost.model.plans import plan_bills
from tenantcost.model.present import Plain, cents, count, percent, small
from tenantcost.model.scenario import Scenario, load_scenario
from tenantcost.model.seed import ClaimCheck, compare_seed
from tenantcost.model.sensitivity import VARIABLE_HELP, sensitivity, write_chart
from tenantcost.numbers import parse_decimal, parse_integer
from tenantcost.output import OutputFormat, emit

app = typer.Typer(
    help="What-if pricing and capacity models over price books and scenario files "
    "(no database needed).",
    no_args_is_help=True,
)

FORMAT_HELP = "Output format: table (people), json or csv (machines)."
SCENARIO_HELP = "A shipped scenario name (seed-002, railway-2025-11) or a scenario TOML path."
MIX_HELP = (
    "A named mix from the scenario (e.g. a-month-1-3, b, c, conversion-10); default: its mix."
)
MAX_COUNT = 100_000_000  # tenants per tier in a what-if mix
MAX_PERCENT = Decimal(100_000)  # a conversion or change in percent
COUNTS_HELP = "Tenants per tier, e.g. FREE=700,STARTER=200,PRO=80,ENTERPRISE=20 (overrides --mix)."


def parse_counts(text: str) -> dict[str, int]:
    """``FREE=700,STARTER=200`` -> counts; anything else is the user's to fix."""
    counts: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        tier, equals, number = part.partition("=")
        if not equals:
            raise UserError(f"--counts: {part!r} is not TIER=COUNT", "e.g. FREE=700,STARTER=200")
        counts[tier.strip()] = parse_integer(
            number, what=f"--counts {tier.strip()}", maximum=MAX_COUNT, example="700"
        )
    if not counts:
        raise UserError("--counts is empty", "e.g. FREE=700,STARTER=200")
    return counts


def choose_counts(scenario: Scenario, mix: str | None, counts: str | None) -> dict[str, int]:
    """--counts wins over --mix; neither means the scenario's own mix."""
    if counts:
        return parse_counts(counts)
    return scenario.named_mix(mix or "default")


def mix_label(mix: str | None, counts: str | None) -> str:
    return "custom counts" if counts else (mix or "default mix")


@app.command("cost")
def cost(
    scenario: str = typer.Argument("seed-002", help=SCENARIO_HELP),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
) -> None:
    """Per-tier monthly cost per tenant (compute, memory, storage, egress), margin, per query."""
    sc = load_scenario(scenario)
    rows = [
        {
            "tier": c.tier,
            "price": cents(c.price),
            "queries_month": count(c.usage.queries_per_month),
            "compute": small(c.usage.compute),
            "memory": small(c.usage.memory),
            "storage": small(c.usage.storage),
            "egress": small(c.usage.egress),
            "total": small(c.total),
            "margin_pct": percent(c.margin_percent),
            "cost_per_query": small(c.cost_per_query),
        }
        for c in tier_costs(sc)
    ]
    emit(rows, fmt, title=f"Cost per tenant-month: {sc.name} on {sc.book.name}")


def mix_rows(result: MixResult) -> list[dict[str, Any]]:
    """Per-tier lines, then the totals the seed reports in section 4 (and 9 B with add-ons)."""
    rows: list[dict[str, Any]] = [
        {
            "line": line.tier,
            "tenants": count(line.tenants),
            "cost": cents(line.usage_cost),
            "revenue": cents(line.revenue),
            "margin_pct": percent(line.margin_percent),
        }
        for line in result.lines
    ]
    totals = [
        ("control plane", None, result.control_plane, None, None),
        ("discounts", None, None, -result.discount, None),
        (
            "total (tiers)",
            result.tenants,
            result.base_cost,
            result.base_revenue,
            result.base_margin_percent,
        ),
        ("add-ons", None, result.addon_cost, result.addon_revenue, None),
        (
            "total with add-ons",
            result.tenants,
            result.total_cost,
            result.revenue,
            result.margin_percent,
        ),
    ]
    for label, tenants, cost_, revenue, margin in totals:
        rows.append(
            {
                "line": label,
                "tenants": None if tenants is None else count(tenants),
                "cost": cents(cost_),
                "revenue": cents(revenue),
                "margin_pct": percent(margin),
            }
        )
    return rows


@app.command("mix")
def mix(
    scenario: str = typer.Argument("seed-002", help=SCENARIO_HELP),
    mix_name: str | None = typer.Option(None, "--mix", help=MIX_HELP),
    counts: str | None = typer.Option(None, "--counts", help=COUNTS_HELP),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
) -> None:
    """Blended monthly cost, revenue and gross margin of a tenant mix (seed sections 4 and 9)."""
    sc = load_scenario(scenario)
    result = mix_result(sc, choose_counts(sc, mix_name, counts))
    title = f"Tenant mix ({mix_label(mix_name, counts)}): {sc.name} on {sc.book.name}"
    emit(mix_rows(result), fmt, title=title)


@app.command("plans")
def plans(
    scenario: str = typer.Argument("seed-002", help=SCENARIO_HELP),
    mix_name: str | None = typer.Option(None, "--mix", help=MIX_HELP),
    counts: str | None = typer.Option(None, "--counts", help=COUNTS_HELP),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
) -> None:
    """Each hosting plan's bill for a mix, tenants that fit its credit, and upgrade points.

    fits_* = most tenants (of the mix's average tenant, or of one tier) whose usage stays
    within the credit; upgrade_from = fewest mix tenants from which the plan costs no more
    than any other. The control plane counts as host usage only if the scenario says so.
    """
    sc = load_scenario(scenario)
    rows = []
    for b in plan_bills(sc, choose_counts(sc, mix_name, counts)):
        row: dict[str, Any] = {
            "plan": b.plan,
            "subscription": cents(b.subscription),
            "credit": cents(b.credit),
            "host_usage": cents(b.host_usage),
            "overage": cents(b.overage),
            "bill": cents(b.bill) if b.bill is not None else "not viable",
            "cheapest": "yes" if b.cheapest else "",
            "fits_mix": b.fits_mix,
        }
        row.update({f"fits_{tier}": n for tier, n in b.fits_by_tier.items()})
        row["upgrade_from"] = b.cheapest_from
        rows.append(row)
    title = f"Hosting plans ({mix_label(mix_name, counts)}): {sc.name} on {sc.book.name}"
    emit(rows, fmt, title=title)


def parse_values(text: str | None) -> list[Decimal] | None:
    """``--values -50,0,25`` -> Decimals (percent)."""
    if text is None:
        return None
    values: list[Decimal] = []
    for part in filter(None, (v.strip() for v in text.split(","))):
        negative = part.startswith("-")
        magnitude = parse_decimal(
            part[1:] if negative else part, what="--values", maximum=MAX_PERCENT, example="25"
        )
        values.append(-magnitude if negative else magnitude)
    if not values:
        raise UserError("--values is empty", "e.g. 0,10,20")
    return values


@app.command("sensitivity")
def sensitivity_command(
    scenario: str = typer.Argument("seed-002", help=SCENARIO_HELP),
    vary: list[str] = typer.Option(
        ["conversion"], "--vary", help=f"Input to vary (repeatable): {VARIABLE_HELP}."
    ),
    values: str | None = typer.Option(
        None,
        "--values",
        help="Comma-separated values: conversion % for conversion, else % change "
        "(default: conversion 0-40 step 5; changes -50..+100 step 25).",
    ),
    mix_name: str | None = typer.Option(None, "--mix", help=MIX_HELP + " (not for conversion)"),
    counts: str | None = typer.Option(None, "--counts", help=COUNTS_HELP),
    chart: Path | None = typer.Option(None, "--chart", help="Also draw margin to a .png or .svg."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
) -> None:
    """Margin as one input varies: conversion (appendix B), a host rate, a tier price."""
    sc = load_scenario(scenario)
    base = choose_counts(sc, mix_name, counts)
    steps = parse_values(values)
    series = {v: sensitivity(sc, v, steps, base) for v in vary}
    rows = [
        {
            "variable": p.variable,
            "value_pct": Plain(p.value),
            "tenants": count(p.result.tenants),
            "revenue": cents(p.result.base_revenue),
            "cost": cents(p.result.base_cost),
            "margin_pct": percent(p.result.base_margin_percent),
            "margin_with_addons_pct": percent(p.result.margin_percent),
        }
        for points in series.values()
        for p in points
    ]
    emit(rows, fmt, title=f"Sensitivity: {sc.name} on {sc.book.name}")
    if chart is not None:
        write_chart(series, chart)


def claim_row(check: ClaimCheck) -> dict[str, Any]:
    """One seed figure, the model's figure and whether the seed's figure holds."""
    claim = check.claim
    if claim.unit == "yes/no":
        computed: Any = "Yes" if check.computed else "No"
    elif claim.unit == "percent":
        computed = percent(check.computed, 2)
    elif claim.unit == "tenants":
        computed = Plain(check.computed)
    else:
        computed = small(check.computed)
    return {
        "ref": claim.ref,
        "figure": claim.label,
        "seed_states": claim.stated,
        "computed": computed,
        "difference": small(check.difference) if claim.unit != "yes/no" else None,
        "ratio": None if check.ratio is None else small(check.ratio, 3),
        "holds": "yes" if check.holds else "NO",
        "note": claim.note,
    }


@app.command("compare-seed")
def compare_seed_command(
    only_failing: bool = typer.Option(False, "--failing", help="Show only claims that fail."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
) -> None:
    """Every figure seed 002 states beside the figure computed from its own inputs."""
    checks = compare_seed()
    rows = [claim_row(c) for c in checks if not (only_failing and c.holds)]
    held = sum(c.holds for c in checks)
    title = f"Seed 002 claims vs the model: {held} of {len(checks)} hold"
    emit(rows, fmt, title=title)
