"""Every Hostwinds Cloud API request and response shape tenantcost relies on, in ONE place.

SECOND-HAND SHAPES. Field names and response layouts below come from PenguinMails' own API
notes (last modified 2025-11-19), summarised in REFERENCE.md "Hostwinds Cloud API"; they were
not checked against Hostwinds. The official reference is https://developers.hostwinds.com/cloud .
When Hostwinds disagrees, fix it here: the client (hostwinds.py), the fake server
(fake_hostwinds.py) and the sync all go through these builders, models and parsers.

Transport: HTTP POST, form-encoded, ``action=<name>``, the API key in the field ``API``.
Errors come back as HTTP 200 with ``{"result": "error", "message": ..., "ERROR": <code>}``.

Documented (second-hand):

* ``get_price_list`` (optional ``serviceid``, ``drive_type`` default ssd, ``managed`` default 1,
  ``disk``) -> ``{"success": {<key>: <plan>, ...}}``; a plan has string fields ``id, name, ram,
  cpu, disk, bandwidth``, one price string per cycle (``monthly`` ... ``triennially``), ``rid``,
  ``mtotal, promo, percent, cycles, firsts, current, mysort, resource``.
* ``upgrade_instance`` (``serviceid``, ``rid``; optional ``ram, cpu, disk, bandwidth``) ->
  ``[{"result": "success", "action": "Upgrade Instance", "message": ...}]``. It CREATES an upgrade
  order and an invoice at Hostwinds.
* ``check_upgrade_order`` (``serviceid``) -> the pending order with ``invoiceid, duedate, total``.

ASSUMED (undocumented; the parsers accept the variants listed):

* ``get_billingcycle_prices`` (``serviceid``) -> ``{"success": {<cycle>: {"price": "9.99",
  "duedate": "2025-12-19"}, ...}}``; a bare price string per cycle and ``amount`` instead of
  ``price`` are accepted too.
* ``check_upgrade_order`` wraps the order as ``{"success": {...}}`` (a bare object or a one-item
  list are accepted), and ``total`` is the price of ONE full billing cycle of the instance with
  the requested configuration (not a prorated remainder). tenantcost normalises it like a
  price-list price: total / months in the instance's billing cycle.
* Money is a decimal string such as ``"9.99"``; ``"$9.99"``, ``"9.99 USD"`` and ``"1,299.00"``
  are accepted. A negative price (WHMCS uses ``-1.00``) means "cycle not offered".
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from tenantcost.providers.errors import HostwindsResponseError

OFFICIAL_REFERENCE = "https://developers.hostwinds.com/cloud"

ACTION_FIELD = "action"
KEY_FIELD = "API"

GET_PRICE_LIST = "get_price_list"
GET_BILLINGCYCLE_PRICES = "get_billingcycle_prices"
UPGRADE_INSTANCE = "upgrade_instance"
CHECK_UPGRADE_ORDER = "check_upgrade_order"

#: Per-cycle price fields on a plan, in cycle order.
CYCLE_FIELDS = ("monthly", "quarterly", "semiannually", "annually", "biennially", "triennially")

#: Custom-configuration components accepted by upgrade_instance.
CUSTOM_FIELDS = ("ram", "cpu", "disk", "bandwidth")

SHAPE_HINT = (
    "the Hostwinds response shapes are second-hand; compare the response with "
    f"{OFFICIAL_REFERENCE} and correct src/tenantcost/providers/hostwinds_api.py"
)


# ---------------------------------------------------------------- requests (form fields)


def _form(action: str, **fields: str | int | None) -> dict[str, str]:
    form = {ACTION_FIELD: action}
    form.update({k: str(v) for k, v in fields.items() if v is not None})
    return form


def price_list_form(
    serviceid: str | None = None,
    drive_type: str | None = None,
    managed: int | None = None,
    disk: str | None = None,
) -> dict[str, str]:
    return _form(
        GET_PRICE_LIST, serviceid=serviceid, drive_type=drive_type, managed=managed, disk=disk
    )


def billingcycle_prices_form(serviceid: str | None = None) -> dict[str, str]:
    return _form(GET_BILLINGCYCLE_PRICES, serviceid=serviceid)


def upgrade_instance_form(
    serviceid: str, rid: str, config: Mapping[str, Any] | None = None
) -> dict[str, str]:
    parts = {k: str(config[k]) for k in CUSTOM_FIELDS if config and config.get(k) is not None}
    return _form(UPGRADE_INSTANCE, serviceid=serviceid, rid=rid, **parts)


def check_upgrade_order_form(serviceid: str) -> dict[str, str]:
    return _form(CHECK_UPGRADE_ORDER, serviceid=serviceid)


# ---------------------------------------------------------------- money


def parse_money(value: Any) -> Decimal:
    """A Hostwinds price (string or number) as an exact Decimal; never via float."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a price: {value!r}")
    if isinstance(value, Decimal | int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().removeprefix("$").removesuffix("USD").strip().replace(",", "")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a price: {value!r}") from None
    else:
        raise ValueError(f"not a price: {value!r}")
    if not amount.is_finite():
        raise ValueError(f"not a price: {value!r}")
    return amount


# ---------------------------------------------------------------- errors in a 200 body


def body_error(body: Any) -> tuple[str, str | None] | None:
    """``(message, code)`` when the body reports ``result: "error"``, else None."""
    items = body if isinstance(body, list) else [body]
    for item in items:
        if isinstance(item, Mapping) and str(item.get("result", "")).lower() == "error":
            message = str(item.get("message") or "no message").strip()
            code = item.get("ERROR")
            return message, (None if code is None else str(code))
    return None


# ---------------------------------------------------------------- response models


class HostwindsPlan(BaseModel):
    """One entry of get_price_list (fixed or custom plan)."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, frozen=True)

    id: str
    name: str = ""
    ram: str | None = None
    cpu: str | None = None
    disk: str | None = None
    bandwidth: str | None = None
    monthly: str | None = None
    quarterly: str | None = None
    semiannually: str | None = None
    annually: str | None = None
    biennially: str | None = None
    triennially: str | None = None
    rid: str | None = None
    current: bool = False

    @field_validator("current", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> bool:
        return str(value).strip().lower() in {"1", "true", "yes"}

    def price_for(self, cycle: str) -> Decimal | None:
        """The price string for ``cycle`` as Decimal, or None when the plan has none."""
        raw = getattr(self, cycle, None) if cycle in CYCLE_FIELDS else None
        if raw in (None, ""):
            return None
        return parse_money(raw)


class PriceList(BaseModel):
    plans: list[HostwindsPlan]

    def find(self, plan_id: str) -> HostwindsPlan | None:
        return next((p for p in self.plans if p.id == plan_id), None)

    def current(self) -> HostwindsPlan | None:
        return next((p for p in self.plans if p.current), None)


class CyclePrice(BaseModel):
    cycle: str
    price: Decimal
    duedate: str | None = None


class BillingCyclePrices(BaseModel):
    prices: dict[str, CyclePrice]


class UpgradeResult(BaseModel):
    message: str


class UpgradeOrder(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    invoiceid: str | None = None
    duedate: str | None = None
    total: Decimal

    @field_validator("total", mode="before")
    @classmethod
    def _money(cls, value: Any) -> Decimal:
        return parse_money(value)


# ---------------------------------------------------------------- parsers


def _bad_shape(action: str, detail: str) -> HostwindsResponseError:
    return HostwindsResponseError(
        f"Hostwinds {action}: unexpected response shape ({detail})", SHAPE_HINT, action=action
    )


def _success(action: str, body: Any) -> Any:
    if isinstance(body, Mapping) and "success" in body:
        return body["success"]
    raise _bad_shape(action, 'no "success" field')


def parse_price_list(body: Any) -> PriceList:
    payload = _success(GET_PRICE_LIST, body)
    raw = list(payload.values()) if isinstance(payload, Mapping) else payload
    if not isinstance(raw, list):
        raise _bad_shape(GET_PRICE_LIST, '"success" is neither an object nor a list of plans')
    try:
        return PriceList(plans=[HostwindsPlan.model_validate(p) for p in raw])
    except ValidationError as exc:
        raise _bad_shape(GET_PRICE_LIST, f"plan: {exc.errors()[0]['msg']}") from None


def parse_billingcycle_prices(body: Any) -> BillingCyclePrices:
    payload = _success(GET_BILLINGCYCLE_PRICES, body)
    if not isinstance(payload, Mapping):
        raise _bad_shape(GET_BILLINGCYCLE_PRICES, '"success" is not an object of cycles')
    prices: dict[str, CyclePrice] = {}
    try:
        for cycle, entry in payload.items():
            if isinstance(entry, Mapping):
                raw = entry.get("price", entry.get("amount"))
                due = entry.get("duedate")
            else:
                raw, due = entry, None
            key = str(cycle).strip().lower()
            prices[key] = CyclePrice(
                cycle=key, price=parse_money(raw), duedate=None if due is None else str(due)
            )
    except ValueError as exc:
        raise _bad_shape(GET_BILLINGCYCLE_PRICES, str(exc)) from None
    return BillingCyclePrices(prices=prices)


def parse_upgrade_result(body: Any) -> UpgradeResult:
    items = body if isinstance(body, list) else [body]
    for item in items:
        if isinstance(item, Mapping) and str(item.get("result", "")).lower() == "success":
            return UpgradeResult(message=str(item.get("message") or ""))
    raise _bad_shape(UPGRADE_INSTANCE, 'no item with result "success"')


def parse_upgrade_order(body: Any) -> UpgradeOrder:
    payload = body.get("success", body) if isinstance(body, Mapping) else body
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    if not isinstance(payload, Mapping) or "total" not in payload:
        raise _bad_shape(CHECK_UPGRADE_ORDER, 'no order with a "total"')
    try:
        return UpgradeOrder.model_validate(dict(payload))
    except ValidationError as exc:
        detail = f"total {payload.get('total')!r}: {exc.errors()[0]['msg']}"
        raise _bad_shape(CHECK_UPGRADE_ORDER, detail) from None
