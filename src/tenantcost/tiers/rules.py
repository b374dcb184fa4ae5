"""The per-tenant enforcement state machine (seed 002 §6.4), as a pure function of hours.

Seed rules, hour by hour, on the ratio of use to the tier's ceiling (the highest ratio over
the cost, storage and request ceilings):

- above 200 % → ``hard_throttle`` at once; above 150 % → ``soft_throttle`` at once;
- above 100 % for 3 consecutive hours → ``suggest_upgrade`` on the third hour;
- stepping *down* to a lower level needs ``step_down_hours`` consecutive hours that call for
  it (hysteresis), so a tenant hovering at the ceiling does not flap.

tenantcost only signals: the decision is data for other systems, it never throttles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import IntEnum

SOFT_RATIO = Decimal("1.5")
HARD_RATIO = Decimal("2.0")
HOURS_BEFORE_UPGRADE = 3
DEFAULT_STEP_DOWN_HOURS = 6


class Level(IntEnum):
    normal = 0
    suggest_upgrade = 1
    soft_throttle = 2
    hard_throttle = 3


@dataclass(frozen=True)
class Reading:
    """One hour of one tenant: which ceiling binds hardest and by how much."""

    hour: datetime
    ceiling: str  # cost | storage | requests
    figure: Decimal  # the tenant's use (cost run-rate per month, GB, requests per hour)
    limit: Decimal  # the tier's ceiling for that figure

    @property
    def ratio(self) -> Decimal:
        return self.figure / self.limit if self.limit > 0 else Decimal(0)


@dataclass(frozen=True)
class TenantState:
    level: Level = Level.normal
    hours_over: int = 0  # consecutive hours above the ceiling
    hours_calling_lower: int = 0  # consecutive hours whose target is below the level
    since: datetime | None = None  # when the current level began


@dataclass(frozen=True)
class Decision:
    """A change of level, with the evidence behind it."""

    hour: datetime
    from_level: Level
    to_level: Level
    reading: Reading
    episode_since: datetime | None  # first hour over the ceiling in this episode


def worst_reading(readings: list[Reading]) -> Reading:
    """The ceiling the tenant is closest to (or furthest over)."""
    return max(readings, key=lambda r: r.ratio)


def target_level(ratio: Decimal, hours_over: int) -> Level:
    if ratio > HARD_RATIO:
        return Level.hard_throttle
    if ratio > SOFT_RATIO:
        return Level.soft_throttle
    if ratio > 1 and hours_over >= HOURS_BEFORE_UPGRADE:
        return Level.suggest_upgrade
    return Level.normal


def step(
    state: TenantState,
    reading: Reading,
    *,
    step_down_hours: int = DEFAULT_STEP_DOWN_HOURS,
    episode_since: datetime | None = None,
) -> tuple[TenantState, Decision | None]:
    """Advance one hour; return the new state and a decision when the level changes."""
    over = reading.ratio > 1
    hours_over = state.hours_over + 1 if over else 0
    target = target_level(reading.ratio, hours_over)
    state = replace(state, hours_over=hours_over)
    if target > state.level:
        return _move(state, reading, target, episode_since)
    if target < state.level:
        calling = state.hours_calling_lower + 1
        if calling >= step_down_hours:
            return _move(state, reading, target, episode_since)
        return replace(state, hours_calling_lower=calling), None
    return replace(state, hours_calling_lower=0), None


def _move(
    state: TenantState, reading: Reading, target: Level, episode_since: datetime | None
) -> tuple[TenantState, Decision]:
    decision = Decision(reading.hour, state.level, target, reading, episode_since)
    new_state = TenantState(
        level=target, hours_over=state.hours_over, hours_calling_lower=0, since=reading.hour
    )
    return new_state, decision


def run(
    readings: list[Reading], *, step_down_hours: int = DEFAULT_STEP_DOWN_HOURS
) -> tuple[TenantState, list[Decision]]:
    """Replay a tenant's hours from a clean state (used by tests and by re-evaluation)."""
    state, decisions = TenantState(), []
    episode: datetime | None = None
    for reading in readings:
        episode = (episode or reading.hour) if reading.ratio > 1 else None
        state, decision = step(
            state, reading, step_down_hours=step_down_hours, episode_since=episode
        )
        if decision is not None:
            decisions.append(decision)
    return state, decisions
