"""Scenario files: the inputs of a what-if model (seed 002 sections 2-5, 8-9, appendix B).

A scenario names a price book and holds tiers (price + usage profile), a default tenant mix,
named mixes, fixed overhead, add-ons, discounts and the conversion rule of a sensitivity sweep.
Sizes may be given in GB or MB; MB are *decimal* (1 GB = 1000 MB), the seed's own convention
(its "20MB" is 0.02 GB and "100MB" of storage is 0.1 GB).
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tenantcost.errors import UserError
from tenantcost.pricing.book import PriceBook, find_price_book
from tenantcost.pricing.tomlio import parse_toml, read_toml, validate_as

MB_PER_GB = Decimal(1000)
NonNegative = Annotated[Decimal, Field(ge=0)]
Percent = Annotated[Decimal, Field(ge=0, le=100)]
SCENARIO_HINT = "compare with a shipped scenario: scenarios/seed-002.toml"
_MB_FIELDS = {
    "avg_ram_gb_per_query": "avg_ram_mb_per_query",
    "storage_gb": "storage_mb",
    "egress_gb_month": "egress_mb_month",
}


def mb_to_gb(data: Any) -> Any:
    """Replace ``*_mb`` keys by their ``*_gb`` value (decimal MB); giving both is an error."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for gb_key, mb_key in _MB_FIELDS.items():
        if mb_key not in out:
            continue
        if gb_key in out:
            raise ValueError(f"give {gb_key} or {mb_key}, not both")
        value = out.pop(mb_key)
        ok = isinstance(value, Decimal | int) and not isinstance(value, bool)
        out[gb_key] = Decimal(value) / MB_PER_GB if ok else value
    return out


class Usage(BaseModel):
    """What one tenant uses in a month; every field defaults to zero (for add-on deltas)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queries_per_day: NonNegative = Decimal(0)
    avg_query_seconds: NonNegative = Decimal(0)
    avg_vcpu_per_query: NonNegative = Decimal(0)
    avg_ram_gb_per_query: NonNegative = Decimal(0)
    storage_gb: NonNegative = Decimal(0)
    egress_gb_month: NonNegative = Decimal(0)

    @model_validator(mode="before")
    @classmethod
    def _megabytes(cls, data: Any) -> Any:
        return mb_to_gb(data)


class Tier(Usage):
    """A product tier: its monthly price and the usage profile of its average tenant."""

    name: str = Field(min_length=1)
    price_monthly: NonNegative
    queries_per_day: NonNegative
    avg_query_seconds: NonNegative
    avg_vcpu_per_query: NonNegative
    avg_ram_gb_per_query: NonNegative
    storage_gb: NonNegative
    egress_gb_month: NonNegative


class MixSpec(BaseModel):
    """Tenants per tier, as whole counts or as percentages of a total (summing to 100)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    counts: dict[str, Annotated[int, Field(ge=0)]] | None = None
    percent: dict[str, Percent] | None = None
    total: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> MixSpec:
        if (self.counts is None) == (self.percent is None):
            raise ValueError("give either counts or percent (with total)")
        if self.percent is not None:
            if self.total is None:
                raise ValueError("percent needs total (the number of tenants)")
            if sum(self.percent.values()) != 100:
                raise ValueError(f"percent must sum to 100, not {sum(self.percent.values())}")
        return self

    def resolved(self) -> dict[str, int]:
        """Whole tenant counts per tier; a percentage giving a fractional tenant is an error."""
        if self.counts is not None:
            return dict(self.counts)
        assert self.percent is not None and self.total is not None
        counts: dict[str, int] = {}
        for tier, pct in self.percent.items():
            exact = pct * self.total / 100
            if exact != exact.to_integral_value():
                raise ValueError(f"{pct}% of {self.total} tenants is {exact} {tier} tenants")
            counts[tier] = int(exact)
        return counts


class AddOn(BaseModel):
    """An add-on a share of one tier's tenants buy; its cost to us is an explicit input.

    Cost per subscriber = quantity x (cost_per_unit + extra_usage priced with the book).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    tier: str | None = Field(default=None, description="Only this tier's tenants buy it.")
    take_rate_percent: Percent = Decimal(0)
    quantity: NonNegative = Decimal(1)
    price_per_unit: NonNegative
    cost_per_unit: NonNegative = Decimal(0)
    extra_usage: Usage | None = None


class Discount(BaseModel):
    """A share of paying tenants get ``percent`` off their tier price (not off add-ons)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    percent: Percent
    take_rate_percent: Percent = Decimal(0)


class ConversionRule(BaseModel):
    """Counts at conversion c% = base + c x per_point (appendix B's rows fit this exactly)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    base: dict[str, Annotated[int, Field(ge=0)]]
    per_point: dict[str, Decimal]

    def counts_at(self, conversion_percent: Decimal) -> dict[str, Decimal]:
        """Tenants per tier at a conversion rate; negative counts mean the rule is out of range."""
        tiers = set(self.base) | set(self.per_point)
        return {
            t: self.base.get(t, 0) + conversion_percent * self.per_point.get(t, Decimal(0))
            for t in sorted(tiers)
        }


class ScenarioFile(BaseModel):
    """A scenario as written in TOML; ``price_book`` is a shipped book name or a path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    price_book: str = Field(min_length=1)
    days_per_month: Annotated[Decimal, Field(gt=0, le=31)]
    control_plane_monthly: NonNegative = Decimal(0)
    control_plane_on_host: bool = Field(
        default=False,
        description="True when the control plane runs on the same host plan and uses its credit.",
    )
    tiers: list[Tier] = Field(min_length=1)
    mix: MixSpec
    mixes: dict[str, MixSpec] = Field(default_factory=dict)
    addons: list[AddOn] = Field(default_factory=list)
    discounts: list[Discount] = Field(default_factory=list)
    conversion: ConversionRule | None = None

    @model_validator(mode="after")
    def _references(self) -> ScenarioFile:
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique: {', '.join(names)}")
        for label, mix in [("mix", self.mix), *((f"mixes.{k}", m) for k, m in self.mixes.items())]:
            check_tiers(mix.resolved(), names, label)
        for addon in self.addons:
            if addon.tier is not None:
                check_tiers({addon.tier: 0}, names, f"add-on {addon.name}")
        if self.conversion is not None:
            check_tiers(dict.fromkeys(self.conversion.per_point, 0), names, "conversion")
            check_tiers(self.conversion.base, names, "conversion")
        return self


def check_tiers(counts: dict[str, Any], tiers: list[str], label: str) -> None:
    """Every tier named in a mix must be a tier of the scenario."""
    unknown = sorted(set(counts) - set(tiers))
    if unknown:
        raise ValueError(f"{label}: unknown tier {', '.join(unknown)} (tiers: {', '.join(tiers)})")


class Scenario(ScenarioFile):
    """A validated scenario together with the price book it names."""

    book: PriceBook
    origin: str = ""

    def tier(self, name: str) -> Tier:
        """The tier called ``name`` (case-insensitive)."""
        for tier in self.tiers:
            if tier.name.casefold() == name.casefold():
                return tier
        known = ", ".join(t.name for t in self.tiers)
        raise UserError(f"scenario {self.name} has no tier {name!r}", f"use one of: {known}")

    def named_mix(self, name: str) -> dict[str, int]:
        """Counts of a named mix; ``default`` is the scenario's own mix."""
        if name == "default":
            return self.mix.resolved()
        if name not in self.mixes:
            known = ", ".join(["default", *self.mixes])
            raise UserError(f"scenario {self.name} has no mix {name!r}", f"use one of: {known}")
        return self.mixes[name].resolved()


def _resolve(data: dict[str, Any], source: str, folder: Path | None) -> Scenario:
    spec = validate_as(ScenarioFile, data, source, SCENARIO_HINT)
    ref = spec.price_book
    if folder is not None and ref.endswith(".toml") and not Path(ref).is_absolute():
        ref = str(folder / ref)
    book = find_price_book(ref)
    return Scenario(**dict(spec), book=book, origin=source)


def shipped_scenario_names() -> list[str]:
    """Names of the scenarios shipped with the package."""
    folder = resources.files("tenantcost.model.scenarios")
    return sorted(
        e.name.removesuffix(".toml") for e in folder.iterdir() if e.name.endswith(".toml")
    )


def load_scenario(name_or_path: str | Path = "seed-002") -> Scenario:
    """Load a scenario by shipped name (``seed-002``) or by TOML file path."""
    text = str(name_or_path)
    path = Path(text)
    if text.endswith(".toml") or path.is_file():
        return _resolve(read_toml(path), path.name, path.parent)
    entry = resources.files("tenantcost.model.scenarios") / f"{text}.toml"
    if not entry.is_file():
        known = ", ".join(shipped_scenario_names())
        raise UserError(f"no scenario named {text!r}", f"use a shipped name ({known}) or a path")
    return _resolve(parse_toml(entry.read_text(encoding="utf-8"), entry.name), entry.name, None)
