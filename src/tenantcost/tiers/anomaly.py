"""Alert conditions as pure functions: margin floors, tier outliers, sudden cost jumps.

The jump detector is the modified z-score of Iglewicz and Hoaglin (1993): with the median
and the median absolute deviation (MAD) of the tenant's own hourly cost over the baseline
window (7 days), z = 0.6745 × (x − median) ÷ MAD, and |z| > 3.5 marks an outlier. It is
robust to the very spikes it looks for, unlike a mean/standard-deviation z-score. When the
MAD is 0 (a flat baseline) any rise above ``flat_jump_factor`` × median (or above a tiny
floor when the median is 0) counts as a jump.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

Z_THRESHOLD = Decimal("3.5")
Z_CONSTANT = Decimal("0.6745")
MIN_BASELINE_HOURS = 24


def margin_pct(revenue: Decimal, cost: Decimal) -> Decimal | None:
    """(revenue − cost) ÷ revenue × 100; None when there is no revenue to have a margin on."""
    if revenue <= 0:
        return None
    return (revenue - cost) / revenue * 100


def below_margin_floor(revenue: Decimal, cost: Decimal, floor_pct: Decimal) -> bool:
    """Seed 002 §12: alert when a tier's margin drops below the floor (70 %)."""
    margin = margin_pct(revenue, cost)
    return margin is not None and margin < floor_pct


def share_of_average(cost: Decimal, average: Decimal) -> Decimal | None:
    """Cost as a percent of its tier's average (the seed's '150 % over tier avg')."""
    return None if average <= 0 else cost / average * 100


@dataclass(frozen=True)
class JumpVerdict:
    is_jump: bool
    z: Decimal | None
    median: Decimal
    mad: Decimal


def robust_z(value: Decimal, baseline: Sequence[Decimal]) -> JumpVerdict:
    """The modified z-score of ``value`` against ``baseline`` (not judged: see ``is_jump``)."""
    mid = Decimal(median(baseline))
    mad = Decimal(median([abs(x - mid) for x in baseline]))
    z = None if mad == 0 else Z_CONSTANT * (value - mid) / mad
    return JumpVerdict(False, z, mid, mad)


def cost_jump(
    value: Decimal,
    baseline: Sequence[Decimal],
    *,
    threshold: Decimal = Z_THRESHOLD,
    flat_jump_factor: Decimal = Decimal(3),
    floor: Decimal = Decimal("0.0001"),
) -> JumpVerdict:
    """Is this hour's cost a sudden jump against the tenant's own recent hours?

    Too little history (< 24 hours) never alerts: the baseline would be noise.
    """
    if len(baseline) < MIN_BASELINE_HOURS:
        return JumpVerdict(False, None, Decimal(0), Decimal(0))
    verdict = robust_z(value, baseline)
    return judge_jump(
        value,
        len(baseline),
        verdict.median,
        verdict.mad,
        threshold=threshold,
        flat_jump_factor=flat_jump_factor,
        floor=floor,
    )


def judge_jump(
    value: Decimal,
    hours: int,
    mid: Decimal,
    mad: Decimal,
    *,
    threshold: Decimal = Z_THRESHOLD,
    flat_jump_factor: Decimal = Decimal(3),
    floor: Decimal = Decimal("0.0001"),
) -> JumpVerdict:
    """``cost_jump`` from a baseline already summarised as its size, median and MAD (the
    hourly evaluation aggregates them in SQL, so a week of every tenant's hours never
    reaches Python)."""
    if hours < MIN_BASELINE_HOURS:
        return JumpVerdict(False, None, Decimal(0), Decimal(0))
    if mad != 0:
        z = Z_CONSTANT * (value - mid) / mad
        return JumpVerdict(z > threshold, z, mid, mad)
    flat_limit = max(mid * flat_jump_factor, floor)
    return JumpVerdict(value > flat_limit, None, mid, mad)
