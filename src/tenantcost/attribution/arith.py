"""Cost model arithmetic: plain values in, plain values out, all Decimal.

Pricing itself (usage x the book in force at each hour) is SQL: ``tenantcost_priced_usage``
in migration 0010, the one definition every table is filled from. What is left here is what
happens to a period's lines once they are priced:

- **accrual**: a provisional month counts fixed monthly costs and revenue x the share of the
  month covered so far (``accrual_fraction``), so revenue and cost stay comparable any day;
- **reconciliation** to a host total (an imported invoice, or measured host usage x price):
  tenants keep their list-price amounts while they fit, the rest is an explicit **idle** line;
  when attributed usage exceeds the total every line is scaled down by total / attributed
  (largest remainder to the quantum) and idle is 0 — idle is never negative;
- **overhead spreading** (``split_total``): control plane, idle, unattributed and background
  lines shared over tenants when the operator chooses to.

Amounts keep 12 decimal places (ROUND_HALF_UP): per-tenant usage costs are often fractions of
a cent. Rounding to cents happens once, at the edge (``tenantcost.output``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Generic, TypeVar
from uuid import UUID

AMOUNT_QUANTUM = Decimal("0.000000000001")  # 12 decimal places, as the ledger stores
CENT = Decimal("0.01")
GB = Decimal(10) ** 9

USAGE_DRIVERS = ("compute", "memory", "storage", "network")
#: Lines platform overhead is made of when the operator spreads it.
OVERHEAD_LINES = ("unattributed", "background", "idle", "control_plane")

K = TypeVar("K", bound=Hashable)
_MICROSECOND = timedelta(microseconds=1)


def money(value: Decimal, quantum: Decimal = AMOUNT_QUANTUM) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LedgerLine:
    """One line of a period: who carries it, for what, measured how, and how much."""

    line: str  # tenant | no_active_subscription | unattributed | background | idle | ...
    tenant_id: UUID | None
    driver: str
    source: str
    fidelity: str  # measured | estimated | modelled | allocated | approximate | remainder
    quantity: Decimal
    unit: str
    amount: Decimal
    unit_price: Decimal | None = None
    price_book: str | None = None


def accrual_fraction(start: datetime, end: datetime, covered_until: datetime) -> Decimal:
    """The share of [start, end) that lies before ``covered_until`` (0..1, exact to the µs)."""
    if end <= start:
        raise ValueError("a period must end after it starts")
    covered = min(max(covered_until, start), end)
    return Decimal((covered - start) // _MICROSECOND) / Decimal((end - start) // _MICROSECOND)


def accrue(monthly: Decimal, fraction: Decimal) -> Decimal:
    return money(monthly * fraction)


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
    total: Decimal, attributed: Mapping[K, Decimal], quantum: Decimal = AMOUNT_QUANTUM
) -> Reconciliation[K]:
    """Split a host ``total`` among the attributed amounts, idle explicit (see module)."""
    if total < 0:
        raise ValueError("a host total cannot be negative")
    total = money(total, quantum)
    raw_sum = sum(attributed.values(), Decimal(0))
    exceeded = raw_sum > total
    if not exceeded:
        amounts = {k: money(v, quantum) for k, v in attributed.items()}
        allocated = sum(amounts.values(), Decimal(0))
    else:
        amounts = split_total(total, attributed, quantum)
        allocated = total
    return Reconciliation(
        amounts=amounts,
        total=total,
        attributed=raw_sum,
        idle=max(Decimal(0), total - allocated),
        scale=(total / raw_sum) if exceeded else Decimal(1),
        exceeded=exceeded,
    )


def reconcile_lines(
    lines: list[LedgerLine], total: Decimal, bucket: str
) -> tuple[list[LedgerLine], Reconciliation[int]]:
    """``reconcile`` over ledger lines: the lines (scaled when they exceed ``total``) plus an
    idle line for ``bucket`` when something is left."""
    result = reconcile(total, {i: line.amount for i, line in enumerate(lines)})
    out = [replace(line, amount=result.amounts[i]) for i, line in enumerate(lines)]
    if result.idle:
        out.append(
            LedgerLine(
                "idle",
                None,
                bucket,
                "host_total",
                "remainder",
                Decimal(1),
                "remainder",
                result.idle,
            )
        )
    return out, result


def spread(pool: Decimal, weights: Mapping[UUID, Decimal], rule: str) -> dict[UUID, Decimal]:
    """Platform overhead over tenants: ``even`` (equal), ``usage`` (by usage cost; even when
    nobody used anything). Exact to the ledger's quantum."""
    if not weights:
        return {}
    if rule == "usage" and sum(weights.values(), Decimal(0)) > 0:
        chosen = dict(weights)
    else:
        chosen = dict.fromkeys(weights, Decimal(1))
    return split_total(money(pool), chosen, AMOUNT_QUANTUM)


def shares(amounts: Mapping[K, Decimal]) -> dict[K, Decimal]:
    """Each amount as a percentage of their sum (0 when the sum is 0), unrounded."""
    total = sum(amounts.values(), Decimal(0))
    if total == 0:
        return dict.fromkeys(amounts, Decimal(0))
    return {k: v * 100 / total for k, v in amounts.items()}
