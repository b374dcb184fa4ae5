"""Sensitivity: how margin moves as one input varies (seed 002 appendix B and section 10).

Variables: ``conversion`` (FREE -> paid conversion %, using the scenario's conversion rule);
``vcpu-price``, ``ram-price``, ``storage-price``, ``egress-price`` (% change of a host rate);
``tier-price:NAME`` (% change of one tier's price); ``control-plane`` (% change of overhead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tenantcost.errors import UserError
from tenantcost.model.engine import HUNDRED, MixResult, mix_result
from tenantcost.model.scenario import Scenario

RATE_FIELDS = {
    "vcpu-price": ("vcpu_per_second", "vcpu_per_minute"),
    "ram-price": ("ram_gb_per_second", "ram_gb_per_minute"),
    "storage-price": ("storage_gb_month", None),
    "egress-price": ("egress_gb", None),
}
VARIABLE_HELP = (
    "conversion, vcpu-price, ram-price, storage-price, egress-price, tier-price:TIER, control-plane"
)
PRICE_STEPS = [Decimal(v) for v in range(-50, 101, 25)]
CONVERSION_STEPS = [Decimal(v) for v in range(0, 41, 5)]


@dataclass(frozen=True)
class SensitivityPoint:
    """Margin at one value of the varied input (value: conversion % or % change)."""

    variable: str
    value: Decimal
    result: MixResult


def default_values(variable: str) -> list[Decimal]:
    """Conversion 0-40% in 5-point steps; price changes -50% to +100% in 25-point steps."""
    return CONVERSION_STEPS if variable == "conversion" else PRICE_STEPS


def _scaled(value: Decimal, change_percent: Decimal) -> Decimal:
    return value * (1 + change_percent / HUNDRED)


def varied(scenario: Scenario, variable: str, value: Decimal) -> Scenario:
    """A copy of the scenario with one price input changed by ``value`` percent."""
    if variable in RATE_FIELDS:
        field, stated = RATE_FIELDS[variable]
        rates = scenario.book.rates
        update: dict[str, object] = {field: _scaled(getattr(rates, field), value)}
        if stated:
            update[stated] = None  # the stated per-minute figure no longer applies
        book = scenario.book.model_copy(update={"rates": rates.model_copy(update=update)})
        return scenario.model_copy(update={"book": book})
    if variable.startswith("tier-price:"):
        name = scenario.tier(variable.split(":", 1)[1]).name
        tiers = [
            t.model_copy(update={"price_monthly": _scaled(t.price_monthly, value)})
            if t.name == name
            else t
            for t in scenario.tiers
        ]
        return scenario.model_copy(update={"tiers": tiers})
    if variable == "control-plane":
        overhead = _scaled(scenario.control_plane_monthly, value)
        return scenario.model_copy(update={"control_plane_monthly": overhead})
    raise UserError(f"cannot vary {variable!r}", f"vary one of: {VARIABLE_HELP}")


def conversion_counts(scenario: Scenario, conversion: Decimal) -> dict[str, Decimal]:
    """Tenants per tier at a conversion rate, by the scenario's ``[conversion]`` rule."""
    if scenario.conversion is None:
        raise UserError(
            f"scenario {scenario.name} has no [conversion] rule",
            "add [conversion] base and per_point counts (see scenarios/seed-002.toml)",
        )
    counts = scenario.conversion.counts_at(conversion)
    negative = sorted(t for t, n in counts.items() if n < 0)
    if negative:
        raise UserError(
            f"conversion {conversion}% gives negative {', '.join(negative)} tenants",
            "choose a smaller conversion range",
        )
    return counts


def sensitivity(
    scenario: Scenario,
    variable: str,
    values: Sequence[Decimal] | None = None,
    counts: Mapping[str, int | Decimal] | None = None,
) -> list[SensitivityPoint]:
    """Mix results as ``variable`` takes each of ``values`` (defaults per variable)."""
    steps = list(values) if values is not None else default_values(variable)
    base_counts = counts if counts is not None else scenario.mix.resolved()
    points = []
    for value in steps:
        if variable == "conversion":
            result = mix_result(scenario, conversion_counts(scenario, value))
        else:
            result = mix_result(varied(scenario, variable, value), base_counts)
        points.append(SensitivityPoint(variable, value, result))
    return points


def write_chart(series: Mapping[str, Sequence[SensitivityPoint]], path: Path) -> None:
    """Margin against each varied input, one panel per variable, as PNG or SVG.

    Decimals become floats here only, for drawing.
    """
    if path.suffix.lower() not in {".png", ".svg"}:
        raise UserError(f"chart path {path} must end in .png or .svg", "e.g. --chart margin.png")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.2 * len(series)), layout="constrained")
    axes = fig.subplots(len(series), 1, squeeze=False)
    for ax, (variable, points) in zip(axes[:, 0], series.items(), strict=True):
        xs = [float(p.value) for p in points]
        for label, attr in (
            ("tiers only", "base_margin_percent"),
            ("with add-ons", "margin_percent"),
        ):
            ys = [_as_float(getattr(p.result, attr)) for p in points]
            ax.plot(xs, ys, marker="o", label=label)
        ax.set_xlabel("conversion %" if variable == "conversion" else f"{variable} change %")
        ax.set_ylabel("gross margin %")
        ax.set_title(f"Margin as {variable} varies")
        ax.grid(True, alpha=0.3)
        ax.legend()
    try:
        fig.savefig(path)
    except OSError as exc:
        raise UserError(f"cannot write chart {path}: {exc.strerror}", "check the folder") from exc


def _as_float(value: Decimal | None) -> float:
    return float("nan") if value is None else float(value)
