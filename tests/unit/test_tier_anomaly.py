"""Alert conditions, with the statistics worked by hand."""

from __future__ import annotations

from decimal import Decimal as D

from tenantcost.tiers.anomaly import (
    below_margin_floor,
    cost_jump,
    judge_jump,
    margin_pct,
    robust_z,
    share_of_average,
)


def test_margin_floor() -> None:
    # revenue 1000, cost 310 → (1000 − 310) ÷ 1000 × 100 = 69 % < 70 %
    assert margin_pct(D(1000), D(310)) == D(69)
    assert below_margin_floor(D(1000), D(310), D(70))
    assert not below_margin_floor(D(1000), D(300), D(70))  # exactly 70 % is not below
    assert not below_margin_floor(D(0), D(5), D(70))  # FREE has no margin to fall


def test_share_of_tier_average_like_the_seed_mockup() -> None:
    # dev-team $0.31 against a FREE average of $0.18 → 0.31 ÷ 0.18 × 100 = 172.2… %
    share = share_of_average(D("0.31"), D("0.18"))
    assert share is not None and share.quantize(D("0.1")) == D("172.2")


def test_robust_z_by_hand() -> None:
    baseline = [D(x) for x in ("1", "2", "3", "4", "100")]
    # median 3; |x − 3| = 2,1,0,1,97 → MAD = median(0,1,1,2,97) = 1
    verdict = robust_z(D(10), baseline)
    assert verdict.median == 3 and verdict.mad == 1
    assert verdict.z == D("0.6745") * (10 - 3) / 1  # 4.7215


def test_jump_against_a_week_of_noisy_hours() -> None:
    week = [D("1.00"), D("1.10"), D("0.90"), D("1.05"), D("0.95")] * 34  # 170 hours
    # median 1.00, MAD 0.05 → z(1.20) = 0.6745 × 0.20 ÷ 0.05 = 2.698 (no jump)
    assert not cost_jump(D("1.20"), week).is_jump
    # z(1.30) = 0.6745 × 0.30 ÷ 0.05 = 4.047 > 3.5 (jump)
    jump = cost_jump(D("1.30"), week)
    assert jump.is_jump and jump.z == D("0.6745") * D("0.30") / D("0.05")


def test_flat_baseline_and_short_history() -> None:
    flat = [D("0.50")] * 48  # MAD 0: a jump is more than 3 × the median (1.50)
    assert not cost_jump(D("1.50"), flat).is_jump
    assert cost_jump(D("1.51"), flat).is_jump
    assert not cost_jump(D("99"), [D("0.5")] * 23).is_jump  # under a day of history


def test_judging_a_baseline_summarised_elsewhere() -> None:
    """The evaluation gets size, median and MAD from SQL; the verdicts are the same rules."""
    # 30 hours, median 0.18, MAD 0.02: z(0.30) = 0.6745 × 0.12 ÷ 0.02 = 4.047 > 3.5
    jump = judge_jump(D("0.30"), 30, D("0.18"), D("0.02"))
    assert jump.is_jump and jump.z == D("0.6745") * D("0.12") / D("0.02")
    # z(0.28) = 0.6745 × 0.10 ÷ 0.02 = 3.3725: no jump
    assert not judge_jump(D("0.28"), 30, D("0.18"), D("0.02")).is_jump
    # a flat baseline (MAD 0): more than 3 × the median 0.50 = 1.50 is a jump
    assert judge_jump(D("1.51"), 48, D("0.50"), D(0)).is_jump
    assert not judge_jump(D("1.50"), 48, D("0.50"), D(0)).is_jump
    # 23 hours is under a day of history: never a jump
    assert not judge_jump(D("99"), 23, D("0.5"), D("0.01")).is_jump
