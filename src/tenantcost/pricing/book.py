"""Price books: versioned provider rates with a source and the date they took effect.

Seed 002 quotes contradictory vCPU rates (DESIGN.md, defect 8), so rates never live in code:
each set is a TOML book naming where every number comes from and when it took effect. All
money is ``Decimal``. Rates are held per second; a book may state vCPU/RAM per minute (as
Railway publishes them) and the per-second figure is derived as per-minute / 60 (Decimal, 28
significant digits). Per-month compute rates are not accepted: the month length behind them
is ambiguous (Railway's $20/vCPU-month and $0.000463/vCPU-minute imply a 43,200-minute month
only after rounding).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tenantcost.errors import UserError
from tenantcost.pricing.tomlio import parse_toml, read_toml, validate_as

NonNegative = Annotated[Decimal, Field(ge=0)]
SECONDS_PER_MINUTE = Decimal(60)

#: The most a rate can plausibly be, with its unit. Real list prices are orders of magnitude
#: lower (Railway: $0.0000077/vCPU-second, $0.15/GB-month, $0.05/GB egress); a value above
#: these is a typo or a unit mix-up, and would overflow the ledger's NUMERIC columns.
RATE_BOUNDS: dict[str, tuple[Decimal, str]] = {
    "vcpu_per_second": (Decimal(1), "USD per vCPU-second"),
    "vcpu_per_minute": (Decimal(60), "USD per vCPU-minute"),
    "ram_gb_per_second": (Decimal(1), "USD per GB-second"),
    "ram_gb_per_minute": (Decimal(60), "USD per GB-minute"),
    "storage_gb_month": (Decimal(100), "USD per GB-month"),
    "egress_gb": (Decimal(100), "USD per GB"),
    "dedicated_ip_month": (Decimal(1000), "USD per IP-month"),
}
#: The most a plan's subscription or included credit can plausibly be, USD per month.
PLAN_BOUND = Decimal(1_000_000)
#: The smallest non-zero rate: anything below a trillionth of a dollar per unit is not a
#: price (``1e-400`` would be read back as 0); write 0 for a free item.
SMALLEST_NONZERO = Decimal("1e-12")


def plausible(value: Decimal, bound: Decimal, unit: str) -> Decimal:
    """``value`` when it is a finite rate in {0} ∪ [1e-12, bound]; ValueError naming the bound."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    if value.is_signed():
        raise ValueError(f"{value} is negative (write 0 for free)")
    if value > bound:
        raise ValueError(f"{value} is above the plausible bound {bound} {unit}")
    if 0 < value < SMALLEST_NONZERO:
        raise ValueError(
            f"{value} is below the smallest non-zero rate {SMALLEST_NONZERO} {unit} "
            "(write 0 for free)"
        )
    return value


BOOK_HINT = "compare the file with a shipped book: `tenantcost pricebook show railway-2025-11`"


def as_utc(value: date | datetime) -> datetime:
    """A date means midnight UTC; a naive datetime is taken as UTC; aware ones are converted."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


def per_minute_to_second(data: Any, base: str, alternative: str) -> Any:
    """Fill ``base`` (per second) from ``alternative`` (per minute) when only that is given.

    When both are given they must agree exactly, so a dumped book (which carries both)
    validates again unchanged.
    """
    if not isinstance(data, dict) or data.get(alternative) is None:
        return data
    minute = data[alternative]
    if not isinstance(minute, Decimal | int) or isinstance(minute, bool):
        return data  # the field validator reports the bad value
    derived = Decimal(minute) / SECONDS_PER_MINUTE
    if base in data and data[base] is not None and Decimal(str(data[base])) != derived:
        raise ValueError(f"give {base} or {alternative}, not two different rates")
    return {**data, base: derived}


class Rates(BaseModel):
    """Usage rates in the book's currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vcpu_per_second: NonNegative = Field(description="Per vCPU-second of compute.")
    vcpu_per_minute: NonNegative | None = Field(
        default=None, description="As the source states it; vcpu_per_second = this / 60."
    )
    ram_gb_per_second: NonNegative = Field(description="Per GB-second of memory.")
    ram_gb_per_minute: NonNegative | None = Field(
        default=None, description="As the source states it; ram_gb_per_second = this / 60."
    )
    storage_gb_month: NonNegative = Field(description="Per GB of volume storage per month.")
    egress_gb: NonNegative = Field(description="Per GB of network egress.")
    dedicated_ip_month: NonNegative | None = Field(
        default=None, description="Per dedicated IP per month; omit when the provider has none."
    )

    @field_validator("*")
    @classmethod
    def _plausible(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if value is None or info.field_name is None:
            return value
        bound, unit = RATE_BOUNDS[info.field_name]
        return plausible(value, bound, unit)

    @model_validator(mode="before")
    @classmethod
    def _minute_rates(cls, data: Any) -> Any:
        data = per_minute_to_second(data, "vcpu_per_second", "vcpu_per_minute")
        return per_minute_to_second(data, "ram_gb_per_second", "ram_gb_per_minute")


class Plan(BaseModel):
    """A hosting plan: bill = subscription + max(0, usage - credit) when overage is billed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    monthly_subscription: NonNegative
    included_usage_credit: NonNegative
    overage_billed: bool = Field(
        default=True,
        description="False when usage above the credit is not sold (the plan stops instead).",
    )

    @field_validator("monthly_subscription", "included_usage_credit")
    @classmethod
    def _plausible(cls, value: Decimal) -> Decimal:
        return plausible(value, PLAN_BOUND, "USD per month")


class PriceBook(BaseModel):
    """One provider's rates from one effective date; ``model_dump(mode='json')`` suits jsonb."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    effective_from: datetime
    source_url: str = Field(min_length=1)
    source_date: date
    notes: str = ""
    rates: Rates
    plans: list[Plan] = Field(min_length=1)

    @field_validator("effective_from", mode="before")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        return as_utc(value) if isinstance(value, date) else value

    @field_validator("plans")
    @classmethod
    def _unique_plans(cls, plans: list[Plan]) -> list[Plan]:
        names = [p.name.casefold() for p in plans]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"plan names must be unique; repeated: {', '.join(dupes)}")
        return plans

    def plan(self, name: str) -> Plan:
        """The plan called ``name`` (case-insensitive)."""
        for plan in self.plans:
            if plan.name.casefold() == name.casefold():
                return plan
        known = ", ".join(p.name for p in self.plans)
        raise UserError(f"price book {self.name} has no plan {name!r}", f"use one of: {known}")


def parse_price_book(text: str, source: str) -> PriceBook:
    """Validate TOML text as a price book; ``source`` names it in error messages."""
    return validate_as(PriceBook, parse_toml(text, source), source, BOOK_HINT)


def load_price_book(path: Path | str) -> PriceBook:
    """Load and validate a price book file."""
    path = Path(path)
    return validate_as(PriceBook, read_toml(path), path.name, BOOK_HINT)


def shipped_price_books() -> list[PriceBook]:
    """The books shipped inside the package, sorted by provider then effective date."""
    folder = resources.files("tenantcost.pricebooks")
    books = [
        parse_price_book(entry.read_text(encoding="utf-8"), entry.name)
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    ]
    return sorted(books, key=lambda b: (b.provider, b.effective_from, b.name))


def books_in_dir(directory: Path) -> list[PriceBook]:
    """Every ``*.toml`` book in a directory (for ``pricebook list --dir``)."""
    if not directory.is_dir():
        raise UserError(f"{directory} is not a directory", "pass a folder of price book files")
    return [load_price_book(p) for p in sorted(directory.glob("*.toml"))]


def find_price_book(name_or_path: str | Path) -> PriceBook:
    """A shipped book by name, or a book file by path (anything ending .toml or existing)."""
    text = str(name_or_path)
    if text.endswith(".toml") or Path(text).is_file():
        return load_price_book(Path(text))
    books = shipped_price_books()
    for book in books:
        if book.name == text:
            return book
    known = ", ".join(b.name for b in books)
    raise UserError(f"no price book named {text!r}", f"use a shipped name ({known}) or a path")


def book_in_force(books: list[PriceBook], at: datetime, provider: str | None = None) -> PriceBook:
    """The book with the latest ``effective_from <= at`` (inclusive) for one provider.

    ``provider`` may be omitted only when every book is for the same provider, so a book for
    one host is never silently used to price another.
    """
    if at.tzinfo is None:
        raise UserError("the time to price at has no timezone", "pass an aware UTC datetime")
    providers = {b.provider for b in books}
    if provider is None and len(providers) > 1:
        raise UserError(
            "price books for several providers given without choosing one",
            f"name the provider: one of {', '.join(sorted(providers))}",
        )
    candidates = [
        b for b in books if (provider is None or b.provider == provider) and b.effective_from <= at
    ]
    if not candidates:
        raise UserError(
            f"no price book for {provider or 'the provider'} is in force at {at.isoformat()}",
            "add a book whose effective_from is on or before that time",
        )
    latest = max(b.effective_from for b in candidates)
    chosen = [b for b in candidates if b.effective_from == latest]
    if len(chosen) > 1:
        names = ", ".join(sorted(b.name for b in chosen))
        raise UserError(
            f"price books {names} take effect at the same time", "give one a later effective_from"
        )
    return chosen[0]
