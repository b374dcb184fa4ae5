"""Hour-by-hour sequences through the enforcement state machine, with hand-set costs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from tenantcost.tiers.rules import Level, Reading, run

START = datetime(2026, 11, 1, tzinfo=UTC)
CEILING = D("1.00")  # STARTER's cost ceiling per month (seed 002 §6.4)


def hours(*run_rates: str) -> list[Reading]:
    return [
        Reading(START + timedelta(hours=i), "cost", D(rate), CEILING)
        for i, rate in enumerate(run_rates)
    ]


def levels(decisions: list) -> list[tuple[int, Level]]:  # type: ignore[type-arg]
    return [(int((d.hour - START) / timedelta(hours=1)), d.to_level) for d in decisions]


def test_upgrade_is_suggested_on_the_third_hour_over_not_the_second() -> None:
    _, two = run(hours("1.10", "1.20"))
    assert two == []
    state, three = run(hours("1.10", "1.20", "1.05"))
    assert levels(three) == [(2, Level.suggest_upgrade)]
    assert three[0].episode_since == START  # evidence: over since the first hour
    assert three[0].reading.figure == D("1.05") and three[0].reading.limit == CEILING
    assert state.level is Level.suggest_upgrade


def test_an_hour_under_the_ceiling_restarts_the_count() -> None:
    _, decisions = run(hours("1.10", "1.10", "0.90", "1.10", "1.10"))
    assert decisions == []


def test_151_percent_is_soft_and_201_percent_is_hard_at_once() -> None:
    _, soft = run(hours("1.51"))
    assert levels(soft) == [(0, Level.soft_throttle)]
    _, exactly = run(hours("1.50"))  # "above 150 %": 150 % itself is not
    assert exactly == []
    _, hard = run(hours("2.01"))
    assert levels(hard) == [(0, Level.hard_throttle)]
    _, escalate = run(hours("1.60", "2.50"))
    assert levels(escalate) == [(0, Level.soft_throttle), (1, Level.hard_throttle)]


def test_recovery_steps_down_only_after_the_hysteresis_hours() -> None:
    # hard for one hour, then back under the ceiling; step down after 3 calm hours
    readings = hours("2.50", "0.50", "0.50", "0.40", "0.40")
    _, decisions = run(readings, step_down_hours=3)
    assert levels(decisions) == [(0, Level.hard_throttle), (3, Level.normal)]


def test_no_flapping_around_the_ceiling() -> None:
    # 1.6 / 1.4 / 1.6 / 1.4 …: soft once, and it stays soft while it keeps returning
    _, decisions = run(hours("1.6", "1.4", "1.6", "1.4", "1.6", "1.4"), step_down_hours=2)
    assert levels(decisions) == [(0, Level.soft_throttle)]


def test_storage_ceiling_can_drive_the_decision() -> None:
    readings = [
        Reading(START, "storage", D("2.2"), D("1.0")),  # 220 % of the storage ceiling
    ]
    _, decisions = run(readings)
    assert decisions[0].to_level is Level.hard_throttle
    assert decisions[0].reading.ceiling == "storage"
