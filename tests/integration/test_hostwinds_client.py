"""The Hostwinds client against the fake Hostwinds server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tenantcost.errors import UserError
from tenantcost.providers.errors import (
    HostwindsApiError,
    HostwindsAuthError,
    HostwindsResponseError,
    HostwindsUnavailable,
)
from tenantcost.providers.fake_hostwinds import CUSTOM_RID, FakeHostwinds, FakeService
from tenantcost.providers.hostwinds import HostwindsClient, price_instance

SECRET = "hw-secret-Zq81-never-print-me"


@pytest.fixture
def fake() -> Iterator[FakeHostwinds]:
    services = [
        FakeService("1001", "uvps-1", "monthly"),
        FakeService("1002", "uvps-2", "annually"),
        FakeService("1005", None, "annually", config={"cpu": 2, "ram": 6, "disk": 100}),
    ]
    with FakeHostwinds(services=services, api_key=SECRET) as server:
        yield server


def client_for(
    fake: FakeHostwinds, *, key: str = SECRET, retries: int = 4, timeout: float = 5.0
) -> HostwindsClient:
    return HostwindsClient(
        fake.url,
        key,
        timeout=timeout,
        retries=retries,
        backoff_base=0.01,
        backoff_max=0.05,
        allow_upgrade_orders=True,
    )


def test_price_list_has_the_penguinmails_baseline(fake: FakeHostwinds) -> None:
    with client_for(fake) as client:
        plans = client.get_price_list()
    baseline = plans.find("uvps-1")
    assert baseline is not None
    assert (baseline.cpu, baseline.ram, baseline.disk, baseline.bandwidth) == (
        "1",
        "2 GB",
        "50 GB",
        "2 TB",
    )
    assert baseline.price_for("monthly") == Decimal("9.99")
    # longer cycles are discounted: 12 x 9.99 = 119.88 > 107.88
    annual = baseline.price_for("annually")
    assert annual is not None and annual < Decimal("9.99") * 12
    assert fake.calls == [{"action": "get_price_list"}]  # the key is not recorded


def test_price_list_for_a_service_marks_its_current_plan(fake: FakeHostwinds) -> None:
    with client_for(fake) as client:
        current = client.get_price_list("1002").current()
    assert current is not None and current.id == "uvps-2"


def test_429_then_success_is_retried(fake: FakeHostwinds) -> None:
    fake.fail_next(2, status=429, retry_after=0)
    with client_for(fake) as client:
        prices = client.get_billingcycle_prices("1001")
    assert prices.prices["monthly"].price == Decimal("9.99")
    assert fake.request_count == 3  # two 429s + the success


def test_retry_after_is_capped_by_backoff_max(fake: FakeHostwinds) -> None:
    fake.fail_next(1, status=429, retry_after=30)
    started = time.monotonic()
    with client_for(fake) as client:  # backoff_max 0.05 s
        client.get_price_list()
    assert time.monotonic() - started < 2.0
    assert fake.request_count == 2


def test_500_until_retries_run_out(fake: FakeHostwinds) -> None:
    fake.fail_next(1000, status=500)
    started = time.monotonic()
    with client_for(fake, retries=3) as client, pytest.raises(HostwindsUnavailable) as info:
        client.get_price_list()
    elapsed = time.monotonic() - started
    assert fake.request_count == 3
    assert elapsed < 3.0
    err = info.value
    assert err.action == "get_price_list"
    assert err.attempts == 3
    assert err.last_status == "HTTP 500"
    assert "get_price_list" in err.message and "3 attempt" in err.message
    assert "HTTP 500" in err.message
    assert err.hint is not None and fake.url in err.hint and "TENANTCOST_HOSTWINDS" in err.hint
    assert isinstance(err, UserError)


def test_slow_answers_beyond_the_timeout(fake: FakeHostwinds) -> None:
    fake.set_delay(2.0)
    started = time.monotonic()
    with (
        client_for(fake, retries=2, timeout=0.3) as client,
        pytest.raises(HostwindsUnavailable) as info,
    ):
        client.get_price_list()
    elapsed = time.monotonic() - started
    assert fake.request_count == 2
    assert elapsed < 1.8  # 2 x 0.3 s timeout + backoff, far below the 2 s delay x 2
    assert "timed out after 0.3s" in info.value.message


def test_one_slow_answer_then_success(fake: FakeHostwinds) -> None:
    fake.set_delay(2.0, count=1)
    with client_for(fake, retries=2, timeout=0.3) as client:
        plans = client.get_price_list()
    assert plans.find("uvps-1") is not None
    assert fake.request_count == 2


def test_malformed_json_fails_at_once(fake: FakeHostwinds) -> None:
    fake.malformed_next(5)
    with client_for(fake) as client, pytest.raises(HostwindsResponseError) as info:
        client.get_price_list()
    assert fake.request_count == 1  # not retried
    assert "not valid JSON" in info.value.message
    assert "get_price_list" in info.value.message
    assert info.value.hint is not None and "TENANTCOST_HOSTWINDS_API_URL" in info.value.hint


def test_wrong_api_key(fake: FakeHostwinds) -> None:
    wrong = "wrong-key-Xy77"
    with client_for(fake, key=wrong) as client, pytest.raises(HostwindsAuthError) as info:
        client.get_price_list()
    assert fake.request_count == 1  # an error in a 200 body is not retried
    assert "Invalid API Key" in info.value.message
    assert info.value.hint is not None and "TENANTCOST_HOSTWINDS_API_KEY" in info.value.hint
    assert wrong not in str(info.value) and wrong not in repr(info.value)


def test_error_in_200_for_unknown_service(fake: FakeHostwinds) -> None:
    with client_for(fake) as client, pytest.raises(HostwindsApiError) as info:
        client.get_billingcycle_prices("9999")
    assert "Invalid serviceid" in info.value.message
    assert not isinstance(info.value, HostwindsAuthError)
    assert fake.request_count == 1


def test_connection_refused_is_retried_then_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HostwindsClient(
        f"http://127.0.0.1:{port}/cloud/api.php", SECRET, retries=2, backoff_base=0.01
    )
    with client, pytest.raises(HostwindsUnavailable) as info:
        client.get_price_list()
    assert info.value.attempts == 2
    assert "connection failed" in info.value.message


def test_upgrade_instance_is_not_retried_after_a_500(fake: FakeHostwinds) -> None:
    """A 500 may mean the order was created; retrying could create a second one."""
    fake.fail_next(1, status=500)
    with client_for(fake) as client, pytest.raises(HostwindsUnavailable):
        client.upgrade_instance("1005", CUSTOM_RID, {"cpu": 2, "ram": 6, "disk": 100})
    assert fake.count("upgrade_instance") == 1


def test_upgrade_instance_is_retried_after_a_503(fake: FakeHostwinds) -> None:
    fake.fail_next(1, status=503)
    with client_for(fake) as client:
        client.upgrade_instance("1005", CUSTOM_RID, {"cpu": 2, "ram": 6, "disk": 100})
        order = client.check_upgrade_order("1005")
    assert fake.count("upgrade_instance") == 2
    # annually: (2 x 4.00 + 6 x 2.50 + 100 x 0.10) = 33.00 / month; x 12 = 396.00; -10 % = 356.40
    assert order.total == Decimal("356.40")


def test_the_key_never_appears_in_errors_or_logs(
    fake: FakeHostwinds, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with client_for(fake, retries=2) as client:
        texts.append(repr(client))
        fake.fail_next(1, status=429, retry_after=0)
        client.get_price_list()  # retried once, logged
        for setup in (
            lambda: fake.fail_next(10, status=503),
            lambda: fake.malformed_next(1),
            lambda: fake.error_next(1, message=f"API key {SECRET} is not valid"),  # echoes it
        ):
            fake.reset_faults()
            setup()
            with pytest.raises(UserError) as info:
                client.get_price_list()
            texts += [str(info.value), repr(info.value), info.value.hint or ""]
    fake.reset_faults()
    assert "********" in texts[-3]  # the echoed key was masked
    assert any("retrying" in r.getMessage() for r in caplog.records)
    for text in [*texts, caplog.text]:
        assert SECRET not in text


def test_price_instance_paths(fake: FakeHostwinds) -> None:
    with client_for(fake) as client:
        plan = price_instance(client, "1002", "annually", "uvps-2")
        cycles = price_instance(client, "1001", "monthly", None)
        custom = price_instance(
            client, "1005", "annually", None, {"rid": CUSTOM_RID, "cpu": 2, "ram": 6, "disk": 100}
        )
    assert plan.monthly == Decimal("16.14")  # 193.68 / 12
    assert plan.cycle_price == Decimal("193.68")
    assert "uvps-2" in plan.basis and "/ 12" in plan.basis
    assert cycles.monthly == Decimal("9.99")
    assert custom.monthly == Decimal("29.70")  # 356.40 / 12 (see the upgrade test)
    assert fake.orders["1005"]["total"] == "356.40"


def test_price_instance_reasons(fake: FakeHostwinds) -> None:
    fake.set_price("uvps-1", "biennially", "-1.00")
    with client_for(fake) as client:
        with pytest.raises(UserError, match="not in the Hostwinds price list"):
            price_instance(client, "1001", "monthly", "uvps-404")
        with pytest.raises(UserError, match="not offered biennially"):
            price_instance(client, "1001", "biennially", "uvps-1")
        with pytest.raises(UserError, match="unknown billing cycle"):
            price_instance(client, "1001", "fortnightly", "uvps-1")
        with pytest.raises(UserError, match="no 'rid'"):
            price_instance(client, "1005", "annually", None, {"cpu": 2})
    assert fake.request_count == 2  # cycle and rid problems are caught before any request


def test_missing_key_in_settings_is_a_user_error() -> None:
    from tenantcost.config import load_settings

    settings = load_settings(hostwinds_api_key=None)
    with pytest.raises(UserError, match="no Hostwinds API key"):
        HostwindsClient.from_settings(settings)
