"""Login backoff and the password-hashing gate (pure: a fake clock, no server)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tenantcost.errors import UserError
from tenantcost.web.throttle import (
    MAX_NAME,
    Backoff,
    HashGate,
    LoginThrottle,
    Saturated,
    retry_after_header,
)
from tenantcost.web.users import check_password, parse_expiry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_after_the_free_failures_and_is_capped() -> None:
    backoff = Backoff(free=5, base=1.0, cap=900.0)
    # failures 1-4: free; the 5th waits 1 s, then 2, 4, 8 … ; 2^10 = 1024 > 900: capped
    assert [backoff.wait_after(n) for n in range(1, 10)] == [0, 0, 0, 0, 1, 2, 4, 8, 16]
    assert backoff.wait_after(15) == 900.0  # 1 × 2^(15-5) = 1024 s, capped at 900
    assert backoff.wait_after(10**6) == 900.0  # no overflow for absurd counts


def test_an_account_waits_after_five_failures_from_any_address() -> None:
    clock = Clock()
    throttle = LoginThrottle(Backoff(5), Backoff(20), clock=clock)
    addresses = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    for i in range(4):  # failures 1-4 from different addresses: no wait yet
        assert throttle.failed(addresses[i], "maria") == 0
        assert throttle.retry_after("10.0.0.9", "maria") == 0
    assert throttle.failed("10.0.0.5", "maria") == 1.0  # the 5th: 1 s
    assert throttle.retry_after("10.0.0.9", "maria") == 1.0  # whoever tries next
    assert throttle.retry_after("10.0.0.9", "bob") == 0  # other accounts are not affected
    clock.now += 0.4
    assert throttle.retry_after("10.0.0.9", "maria") == pytest.approx(0.6)
    clock.now += 0.6
    assert throttle.retry_after("10.0.0.9", "maria") == 0
    assert throttle.failed("10.0.0.9", "maria") == 2.0  # the 6th: 2 s
    clock.now += 2.0
    assert throttle.failed("10.0.0.9", "maria") == 4.0  # the 7th: 4 s
    throttle.succeeded("maria")  # the right password clears the account
    assert throttle.retry_after("10.0.0.9", "maria") == 0


def test_an_address_waits_after_twenty_failures_across_names() -> None:
    clock = Clock()
    throttle = LoginThrottle(Backoff(5), Backoff(20), clock=clock)
    for i in range(19):  # 19 different names, one guess each: no account reaches 5
        assert throttle.failed("10.0.0.1", f"user{i}") == 0
    assert throttle.failed("10.0.0.1", "user19") == 1.0  # the address's 20th: 1 s
    assert throttle.retry_after("10.0.0.1", "anyone") == 1.0
    assert throttle.retry_after("10.0.0.2", "anyone") == 0  # other addresses go ahead
    throttle.succeeded("user3")  # a success does not clear the address
    assert throttle.retry_after("10.0.0.1", "anyone") == 1.0


def test_the_tables_are_bounded_and_entries_expire() -> None:
    clock = Clock()
    throttle = LoginThrottle(Backoff(1, cap=10.0), Backoff(1, cap=10.0), size=100, clock=clock)
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}", f"name{i}")
    assert len(throttle.addresses) == 100 and len(throttle.accounts) == 100
    # entries live cap + 3600 s after their last failure
    clock.now += 10.0 + 3600.0 + 1
    assert throttle.retry_after("10.0.3.231", "name999") == 0
    assert len(throttle.addresses) == 0 and len(throttle.accounts) == 0


def test_huge_names_share_one_key() -> None:
    clock = Clock()
    throttle = LoginThrottle(Backoff(2), Backoff(1000), clock=clock)
    throttle.failed("a", "x" * MAX_NAME + "1" * 10_000)
    assert throttle.failed("a", "x" * MAX_NAME + "2" * 10_000) == 1.0  # same account key
    assert len(throttle.accounts) == 1


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after_header(s) for s in (0.0, 0.2, 1.0, 1.01, 899.5)] == [
        "1",
        "1",
        "1",
        "2",
        "900",
    ]


def test_the_gate_runs_one_at_a_time_and_turns_away_beyond_its_queue() -> None:
    gate = HashGate(workers=1, queue=2)  # capacity 3: one running, two waiting
    release = threading.Event()
    running: list[str] = []

    def work() -> str:
        running.append(threading.current_thread().name)
        release.wait(5)
        return "done"

    async def scenario() -> tuple[list[str], int]:
        tasks = [asyncio.create_task(gate.run(work)) for _ in range(3)]
        await asyncio.sleep(0.1)
        assert gate.inflight == 3 and len(running) == 1  # only one thread hashes
        with pytest.raises(Saturated):
            await gate.run(work)  # the fourth is refused at once
        release.set()
        results = await asyncio.gather(*tasks)
        return results, gate.inflight

    outcome: list[tuple[list[str], int]] = []
    # a thread of its own: another test's event loop may be running in this one (Playwright)
    runner = threading.Thread(target=lambda: outcome.append(asyncio.run(scenario())))
    try:
        runner.start()
        runner.join(30)
    finally:
        gate.close()
    assert outcome, "the scenario failed (see the thread's exception above)"
    results, inflight = outcome[0]
    assert results == ["done"] * 3 and inflight == 0
    assert all(name.startswith("tc-login") for name in running)


@pytest.mark.parametrize(
    "password",
    [" " * 10, " " * 40, "abc       defghi", "\t\t\tabcdefghi\n  ", "short"],
)
def test_passwords_need_ten_characters_besides_spaces(password: str) -> None:
    with pytest.raises(UserError, match="fewer than 10 characters besides spaces"):
        check_password(password)


def test_ten_characters_besides_spaces_are_enough() -> None:
    assert check_password("a b c d e f g h i j") == "a b c d e f g h i j"
    assert check_password("0123456789") == "0123456789"
    with pytest.raises(UserError, match="NUL"):
        check_password("0123456789\x00")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600), ("12h", 12 * 3600), ("30d", 30 * 86400), ("30", 30 * 86400), ("8w", 56 * 86400)],
)
def test_token_expiry_durations(text: str, seconds: int) -> None:
    assert parse_expiry(text) == seconds


@pytest.mark.parametrize("text", ["0", "0h", "59m", "-1d", "1e3", "3651d", "never", "", "1.5d"])
def test_bad_token_expiry_durations(text: str) -> None:
    with pytest.raises(UserError, match="--expires-in"):
        parse_expiry(text)
