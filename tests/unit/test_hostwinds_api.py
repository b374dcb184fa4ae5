"""Request forms and response parsing for the (second-hand) Hostwinds shapes; no HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenantcost.providers import hostwinds_api as api
from tenantcost.providers.errors import HostwindsResponseError

PLAN = {
    "id": "uvps-1",
    "name": "Unmanaged Linux VPS",
    "ram": "2 GB",
    "cpu": 1,  # numbers arrive sometimes; coerced to str
    "disk": "50 GB",
    "bandwidth": "2 TB",
    "monthly": "9.99",
    "quarterly": "28.47",
    "semiannually": "53.95",
    "annually": "107.88",
    "biennially": "-1.00",
    "triennially": "",
    "rid": "42",
    "mtotal": "9.99",
    "promo": "0",
    "percent": "0",
    "cycles": "monthly,annually",
    "firsts": "0",
    "current": "1",
    "mysort": "1",
    "resource": "vps",
}


# ------------------------------------------------------------------ request forms


def test_forms_carry_action_and_never_the_key() -> None:
    form = api.price_list_form("1001", managed=0)
    assert form == {"action": "get_price_list", "serviceid": "1001", "managed": "0"}
    assert api.KEY_FIELD not in form
    assert api.billingcycle_prices_form("7") == {
        "action": "get_billingcycle_prices",
        "serviceid": "7",
    }
    assert api.check_upgrade_order_form("7") == {"action": "check_upgrade_order", "serviceid": "7"}


def test_upgrade_form_sends_only_given_components() -> None:
    form = api.upgrade_instance_form("7", "99", {"rid": "99", "cpu": 2, "ram": 4, "disk": None})
    assert form == {
        "action": "upgrade_instance",
        "serviceid": "7",
        "rid": "99",
        "cpu": "2",
        "ram": "4",
    }


# ------------------------------------------------------------------ money


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9.99", "9.99"),
        (" $1,299.00 ", "1299.00"),
        ("9.99 USD", "9.99"),
        (12, "12"),
        (9.99, "9.99"),  # via repr, not binary float digits
        (Decimal("0.10"), "0.10"),
    ],
)
def test_parse_money(raw: object, expected: str) -> None:
    assert api.parse_money(raw) == Decimal(expected)


@pytest.mark.parametrize("raw", ["abc", "", None, True, "NaN", "Infinity", [1]])
def test_parse_money_rejects_non_prices(raw: object) -> None:
    with pytest.raises(ValueError, match="not a price"):
        api.parse_money(raw)


# ------------------------------------------------------------------ errors in a 200 body


def test_error_in_200_body_is_detected() -> None:
    assert api.body_error({"result": "error", "message": "Invalid serviceid", "ERROR": 12}) == (
        "Invalid serviceid",
        "12",
    )
    assert api.body_error([{"result": "error", "message": "order exists"}]) == (
        "order exists",
        None,
    )
    assert api.body_error({"result": "ERROR"}) == ("no message", None)


def test_success_bodies_are_not_errors() -> None:
    assert api.body_error({"success": {}}) is None
    assert api.body_error([{"result": "success", "message": "ok"}]) is None
    assert api.body_error("text") is None


# ------------------------------------------------------------------ get_price_list


def test_price_list_object_of_plans() -> None:
    other = {**PLAN, "id": "uvps-2", "current": "0", "monthly": "18.99"}
    plans = api.parse_price_list({"success": {"a": PLAN, "b": other}})
    assert [p.id for p in plans.plans] == ["uvps-1", "uvps-2"]
    plan = plans.find("uvps-1")
    assert plan is not None
    assert plan.cpu == "1"
    assert plan.price_for("annually") == Decimal("107.88")
    assert plan.price_for("biennially") == Decimal("-1.00")  # WHMCS: not offered
    assert plan.price_for("triennially") is None
    assert plan.price_for("hourly") is None
    assert plan.model_extra is not None and plan.model_extra["mtotal"] == "9.99"
    assert plans.current() == plan
    assert plans.find("nope") is None


def test_price_list_as_list_is_accepted() -> None:
    plans = api.parse_price_list({"success": [PLAN]})
    assert plans.plans[0].id == "uvps-1"


@pytest.mark.parametrize(
    "body",
    [{"plans": []}, {"success": "yes"}, {"success": [{"name": "no id"}]}, [], "text"],
)
def test_price_list_bad_shapes_name_the_reference(body: object) -> None:
    with pytest.raises(HostwindsResponseError) as info:
        api.parse_price_list(body)
    assert "get_price_list" in info.value.message
    assert info.value.hint is not None and api.OFFICIAL_REFERENCE in info.value.hint


# ------------------------------------------------------------------ get_billingcycle_prices


def test_billingcycle_prices_variants() -> None:
    parsed = api.parse_billingcycle_prices(
        {
            "success": {
                "monthly": {"price": "9.99", "duedate": "2026-12-19"},
                "Annually": {"amount": "107.88"},
                "triennially": "299.64",
            }
        }
    )
    assert parsed.prices["monthly"].price == Decimal("9.99")
    assert parsed.prices["monthly"].duedate == "2026-12-19"
    assert parsed.prices["annually"].price == Decimal("107.88")
    assert parsed.prices["triennially"].price == Decimal("299.64")


def test_billingcycle_prices_bad_price() -> None:
    with pytest.raises(HostwindsResponseError, match="get_billingcycle_prices"):
        api.parse_billingcycle_prices({"success": {"monthly": {"price": "soon"}}})


# ------------------------------------------------------------------ upgrades


def test_upgrade_result_list() -> None:
    body = [{"result": "success", "action": "Upgrade Instance", "message": "created"}]
    assert api.parse_upgrade_result(body).message == "created"
    with pytest.raises(HostwindsResponseError, match="upgrade_instance"):
        api.parse_upgrade_result([{"action": "Upgrade Instance"}])


@pytest.mark.parametrize(
    "body",
    [
        {"success": {"invoiceid": 70001, "duedate": "2026-12-19", "total": "378.00"}},
        {"invoiceid": "70001", "duedate": "2026-12-19", "total": 378},
        {"success": [{"invoiceid": "70001", "total": "$378.00"}]},
    ],
)
def test_upgrade_order_variants(body: object) -> None:
    order = api.parse_upgrade_order(body)
    assert order.total == Decimal("378")
    assert order.invoiceid == "70001"


@pytest.mark.parametrize(
    "body", [{"success": {"invoiceid": "1"}}, {"success": {"total": "free"}}, "x"]
)
def test_upgrade_order_bad_shapes(body: object) -> None:
    with pytest.raises(HostwindsResponseError, match="check_upgrade_order"):
        api.parse_upgrade_order(body)
