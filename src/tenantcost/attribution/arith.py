"""Cost attribution arithmetic: plain values in, plain values out, all Decimal.

Definitions (per tenant, per UTC hour, then summed over the period):

- **compute** = compute-seconds x the book's price per vCPU-second. Compute-seconds are
  CPU seconds from pg_stat_kcache when installed (measured), else execution time from
  pg_stat_statements or the application (an estimate: one busy vCPU while a query runs).
- **memory** = connection-seconds x the per-connection footprint (MB / 1000 = GB) x the
  price per GB-second. Modelled: PostgreSQL does not report per-connection memory.
- **storage** = bytes / 1e9 (GB) x 1/(hours in that month) per hour sampled, i.e. GB-months,
  x the price per GB-month.
- **network** = egress bytes / 1e9 x the price per GB (application-tagged queries only).
- **vps**, **dedicated_ips** = the tenant's monthly infrastructure / email service cost
  from ``business_cost_allocation`` x the share of the month the period covers.

Each hour is priced with the book in force at the hour's start, so a new book that takes
effect mid-month prices the hours after it. Amounts keep 12 decimal places (ROUND_HALF_UP):
per-tenant usage costs are often fractions of a cent.

**Reconciled** mode splits a host total: each tenant keeps its bottom-up amount (rounded to
the total's quantum) while the attributed sum fits the total, and the rest is an explicit
**idle** line; when attributed usage exceeds the total, every tenant is scaled down by
total / attributed (largest remainder to the quantum) and idle is 0 — idle is never
negative. Either way tenants + idle = total exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Generic, TypeVar
from uuid import UUID

AMOUNT_QUANTUM = Decimal("0.000000000001")  # 12 decimal places, as the ledger stores
CENT = Decimal("0.01")
GB = Decimal(10) ** 9
MB_PER_GB = Decimal(1000)

USAGE_DRIVERS = ("compute", "memory", "storage", "network")
FIXED_DRIVERS = ("vps", "dedicated_ips")
DRIVER_UNITS = {
    "compute": "vCPU-second",
    "memory": "GB-second",
    "storage": "GB-month",
    "network": "GB",
    "vps": "month",
    "dedicated_ips": "month",
}
# Groups in the cost-drivers report (seed 002 section 11's dashboard).
DRIVER_GROUP = {
    "compute": "compute",
    "memory": "memory",
    "storage": "storage",
    "network": "network",
    "vps": "overhead",
    "dedicated_ips": "overhead",
}

K = TypeVar("K", bound=Hashable)


def money(value: Decimal, quantum: Decimal = AMOUNT_QUANTUM) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class HourUsage:
    """One tenant's usage in one UTC hour, in the units the drivers need."""

    tenant_id: UUID
    hour: datetime
    compute_seconds: Decimal = Decimal(0)
    connection_seconds: Decimal = Decimal(0)
    storage_bytes: Decimal = Decimal(0)
    egress_bytes: Decimal = Decimal(0)


@dataclass(frozen=True)
class UnitPrices:
    """A book's rates, per driver unit."""

    book: str
    vcpu_per_second: Decimal
    ram_gb_per_second: Decimal
    storage_gb_month: Decimal
    egress_gb: Decimal

    def for_driver(self, driver: str) -> Decimal:
        return {
            "compute": self.vcpu_per_second,
            "memory": self.ram_gb_per_second,
            "storage": self.storage_gb_month,
            "network": self.egress_gb,
        }[driver]


def driver_quantities(
    usage: HourUsage, *, memory_mb_per_connection: Decimal, hours_in_month: int
) -> dict[str, Decimal]:
    """The hour's quantity per usage driver, in DRIVER_UNITS."""
    return {
        "compute": usage.compute_seconds,
        "memory": usage.connection_seconds * memory_mb_per_connection / MB_PER_GB,
        "storage": usage.storage_bytes / GB / Decimal(hours_in_month),
        "network": usage.egress_bytes / GB,
    }


@dataclass(frozen=True)
class LedgerLine:
    tenant_id: UUID | None  # None: the idle line
    driver: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    price_book: str
    line: str = "tenant"


def bottom_up(
    usage: Iterable[HourUsage],
    prices_at: Mapping[datetime, UnitPrices],
    *,
    memory_mb_per_connection: Decimal,
    hours_in_month: Mapping[datetime, int],
) -> list[LedgerLine]:
    """usage x unit price, one line per (tenant, driver, price book), quantities summed
    over the hours each book was in force, the amount rounded once."""
    totals: dict[tuple[UUID, str, str], Decimal] = defaultdict(Decimal)
    prices_by_book: dict[str, UnitPrices] = {}
    for u in usage:
        prices = prices_at[u.hour]
        prices_by_book[prices.book] = prices
        quantities = driver_quantities(
            u,
            memory_mb_per_connection=memory_mb_per_connection,
            hours_in_month=hours_in_month[u.hour],
        )
        for driver, quantity in quantities.items():
            if quantity:
                totals[(u.tenant_id, driver, prices.book)] += quantity
    lines = []
    for (tenant, driver, book), quantity in sorted(totals.items(), key=lambda kv: str(kv[0])):
        unit_price = prices_by_book[book].for_driver(driver)
        lines.append(
            LedgerLine(
                tenant,
                driver,
                quantity,
                DRIVER_UNITS[driver],
                unit_price,
                money(quantity * unit_price),
                book,
            )
        )
    return lines


def fixed_lines(
    monthly: Mapping[UUID, tuple[Decimal, Decimal]], month_fraction: Decimal, source: str
) -> list[LedgerLine]:
    """VPS and dedicated-IP monthly costs prorated to the period (quantity = months)."""
    lines = []
    for tenant, (vps, ips) in sorted(monthly.items(), key=lambda kv: str(kv[0])):
        for driver, monthly_cost in (("vps", vps), ("dedicated_ips", ips)):
            if monthly_cost:
                lines.append(
                    LedgerLine(
                        tenant,
                        driver,
                        month_fraction,
                        "month",
                        monthly_cost,
                        money(month_fraction * monthly_cost),
                        source,
                    )
                )
    return lines


def split_total(total: Decimal, weights: Mapping[K, Decimal], quantum: Decimal) -> dict[K, Decimal]:
    """Split ``total`` (a multiple of ``quantum``) in proportion to ``weights`` so the parts
    add up to it exactly: floor each share to the quantum, then hand the remaining quanta to
    the largest remainders (ties by key order). All weights must be >= 0."""
    if total < 0 or any(w < 0 for w in weights.values()):
        raise ValueError("split_total needs a non-negative total and weights")
    units = total / quantum
    if units != units.to_integral_value():
        raise ValueError(f"total {total} is not a multiple of {quantum}")
    weight_sum = sum(weights.values(), Decimal(0))
    if weight_sum == 0:
        if total:
            raise ValueError("cannot split a non-zero total over zero weights")
        return dict.fromkeys(weights, Decimal(0))
    raw = {k: units * w / weight_sum for k, w in weights.items()}
    floors = {k: r.to_integral_value(rounding=ROUND_FLOOR) for k, r in raw.items()}
    left = int(units - sum(floors.values(), Decimal(0)))
    order = sorted(raw, key=lambda k: (-(raw[k] - floors[k]), str(k)))
    for k in order[:left]:
        floors[k] += 1
    return {k: floors[k] * quantum for k in weights}


@dataclass
class Reconciliation(Generic[K]):
    amounts: dict[K, Decimal] = field(default_factory=dict)
    total: Decimal = Decimal(0)
    attributed: Decimal = Decimal(0)
    idle: Decimal = Decimal(0)
    scale: Decimal = Decimal(1)
    exceeded: bool = False


def reconcile(
    total: Decimal, attributed: Mapping[K, Decimal], quantum: Decimal = CENT
) -> Reconciliation[K]:
    """Split a host ``total`` among tenants' attributed amounts, idle explicit (see module)."""
    if total < 0:
        raise ValueError("a host total cannot be negative")
    total = money(total, quantum)
    raw_sum = sum(attributed.values(), Decimal(0))
    allocated = min(money(raw_sum, quantum), total)
    exceeded = raw_sum > total
    if raw_sum == 0:
        amounts: dict[K, Decimal] = dict.fromkeys(attributed, Decimal(0))
    else:
        amounts = split_total(allocated, attributed, quantum)
    result: Reconciliation[K] = Reconciliation(
        amounts=amounts,
        total=total,
        attributed=raw_sum,
        idle=total - allocated,
        scale=(total / raw_sum) if exceeded else Decimal(1),
        exceeded=exceeded,
    )
    return result


def shares(amounts: Mapping[K, Decimal]) -> dict[K, Decimal]:
    """Each amount as a percentage of their sum (0 when the sum is 0), unrounded."""
    total = sum(amounts.values(), Decimal(0))
    if total == 0:
        return dict.fromkeys(amounts, Decimal(0))
    return {k: v * 100 / total for k, v in amounts.items()}
