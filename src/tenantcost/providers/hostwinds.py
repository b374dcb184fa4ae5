"""Hostwinds Cloud API client (httpx + tenacity) and the per-instance monthly price.

* Every call is a form-encoded POST with ``action`` and the API key (field ``API``); request and
  response shapes live in :mod:`tenantcost.providers.hostwinds_api`.
* Timeouts come from ``hostwinds_timeout``; HTTP 429, 5xx, connection errors and timeouts are
  retried with exponential backoff (``backoff_base * 2**(attempt-1)`` seconds, capped at
  ``backoff_max``; a 429 ``Retry-After`` is honoured up to the cap) for ``hostwinds_retries``
  attempts in total, then :class:`HostwindsUnavailable` names the action, the last status and
  what to check. ``upgrade_instance`` creates an order, so it is only retried when the request
  cannot have been processed (connection refused, 429, 502, 503, 504).
* A 200 with ``result: "error"`` raises :class:`HostwindsApiError`; a body that is not JSON
  raises :class:`HostwindsResponseError` at once (no retry: it is usually a wrong URL).
* The API key is a SecretStr: never logged, never in an exception message or repr; any provider
  text that echoes it is scrubbed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from tenantcost.config import Settings, get_settings
from tenantcost.errors import UserError
from tenantcost.providers import hostwinds_api as api
from tenantcost.providers.errors import (
    HostwindsApiError,
    HostwindsAuthError,
    HostwindsError,
    HostwindsResponseError,
    HostwindsUnavailable,
)
from tenantcost.providers.normalise import CYCLE_MONTHS, cycle_months, monthly_cost

log = logging.getLogger(__name__)

KEY_ENV = "TENANTCOST_HOSTWINDS_API_KEY"
_MASK = "********"
#: Statuses after which a non-idempotent request was certainly not processed.
_UNPROCESSED_STATUSES = {429, 502, 503, 504}


class _Transient(Exception):
    """One failed attempt that may succeed if tried again (internal)."""

    def __init__(
        self, action: str, status: str, *, retry_after: float | None = None, processed: bool = True
    ) -> None:
        super().__init__(status)
        self.action = action
        self.status = status
        self.retry_after = retry_after
        self.processed = processed  # False: the server cannot have acted on the request


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class HostwindsClient:
    """Thin, typed access to the four Hostwinds pricing actions tenantcost uses."""

    def __init__(
        self,
        api_url: str,
        api_key: SecretStr | str,
        *,
        timeout: float = 10.0,
        retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        allow_upgrade_orders: bool = False,
    ) -> None:
        key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not key.get_secret_value():
            raise UserError("the Hostwinds API key is empty", f"set {KEY_ENV}")
        if retries < 1:
            raise UserError(f"hostwinds retries must be >= 1, got {retries}", "set it to 1 or more")
        self.api_url = api_url
        self._key = key
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self.allow_upgrade_orders = allow_upgrade_orders
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "tenantcost (internal cost modelling)"},
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> HostwindsClient:
        """A client configured from TENANTCOST_HOSTWINDS_* settings; UserError if no key."""
        settings = settings or get_settings()
        if settings.hostwinds_api_key is None:
            raise UserError(
                "no Hostwinds API key configured",
                f"set {KEY_ENV} (or hostwinds_api_key in the settings file)",
            )
        options: dict[str, Any] = {
            "timeout": settings.hostwinds_timeout,
            "retries": settings.hostwinds_retries,
        }
        options.update(overrides)
        return cls(settings.hostwinds_api_url, settings.hostwinds_api_key, **options)

    def __repr__(self) -> str:
        return (
            f"HostwindsClient(api_url={self.api_url!r}, timeout={self.timeout}, "
            f"retries={self.retries}, api_key={_MASK!r})"
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HostwindsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------ transport

    def _scrub(self, text: str) -> str:
        secret = self._key.get_secret_value()
        return text.replace(secret, _MASK) if secret else text

    def _wait(self, state: RetryCallState) -> float:
        delay = min(self.backoff_max, self.backoff_base * float(2 ** (state.attempt_number - 1)))
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, self.backoff_max))
        return delay

    def _log_retry(self, state: RetryCallState) -> None:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "Hostwinds %s attempt %d/%d failed (%s); retrying in %.2fs",
            exc.action if isinstance(exc, _Transient) else "?",
            state.attempt_number,
            self.retries,
            exc.status if isinstance(exc, _Transient) else type(exc).__name__,
            wait,
        )

    def _once(self, action: str, form: Mapping[str, str], idempotent: bool) -> Any:
        data = {**form, api.KEY_FIELD: self._key.get_secret_value()}
        started = time.monotonic()
        try:
            response = self._http.post(self.api_url, data=data)
        except httpx.TimeoutException:
            raise self._transient(action, f"timed out after {self.timeout:g}s", True) from None
        except httpx.ConnectError as exc:
            status = f"connection failed ({self._scrub(str(exc)) or type(exc).__name__})"
            raise self._transient(action, status, False) from None
        except httpx.TransportError as exc:
            status = f"transport error ({type(exc).__name__})"
            raise self._transient(action, status, True) from None
        log.debug(
            "Hostwinds %s -> HTTP %d in %.3fs",
            action,
            response.status_code,
            time.monotonic() - started,
        )
        code = response.status_code
        if code == 429 or code >= 500:
            processed = code not in _UNPROCESSED_STATUSES
            raise self._transient(action, f"HTTP {code}", processed, _retry_after(response))
        if code in (401, 403):
            raise HostwindsAuthError(
                f"Hostwinds {action}: HTTP {code} (not authorised)",
                f"check {KEY_ENV}: the key may be wrong, revoked or lack API access",
                action=action,
            )
        if code != 200:
            raise HostwindsError(
                f"Hostwinds {action}: unexpected HTTP {code} from {self.api_url}",
                "check TENANTCOST_HOSTWINDS_API_URL (expected .../cloud/api.php)",
                action=action,
            )
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            snippet = self._scrub(response.text[:60]).replace("\n", " ")
            raise HostwindsResponseError(
                f"Hostwinds {action}: response is not valid JSON "
                f"(content-type {response.headers.get('content-type', '?')!r}, "
                f"starts with {snippet!r})",
                "check TENANTCOST_HOSTWINDS_API_URL points at the Cloud API (…/cloud/api.php); "
                "if it does, Hostwinds may be having trouble — try again later",
                action=action,
            ) from None
        error = api.body_error(body)
        if error is not None:
            message, err_code = self._scrub(error[0]), error[1]
            lowered = message.lower()
            suffix = f" (code {err_code})" if err_code else ""
            text = f"Hostwinds {action} refused: {message}{suffix}"
            if "api key" in lowered or "auth" in lowered or "permission" in lowered:
                hint = f"check {KEY_ENV}: the key may be wrong, revoked or lack API access"
                raise HostwindsAuthError(text, hint, action=action, code=err_code)
            hint = "check the serviceid / plan / configuration sent, and the Hostwinds account"
            raise HostwindsApiError(text, hint, action=action, code=err_code)
        return body

    def _transient(
        self, action: str, status: str, processed: bool, retry_after: float | None = None
    ) -> _Transient:
        return _Transient(action, status, retry_after=retry_after, processed=processed)

    def call(self, form: Mapping[str, str], *, idempotent: bool = True) -> Any:
        """POST one action (form from hostwinds_api) with retries; returns the decoded JSON."""
        action = form[api.ACTION_FIELD]

        def should_retry(exc: BaseException) -> bool:
            return isinstance(exc, _Transient) and (idempotent or not exc.processed)

        retrying = Retrying(
            stop=stop_after_attempt(self.retries),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient) & _Predicate(should_retry),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        attempts = 0

        def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            return self._once(action, form, idempotent)

        try:
            return retrying(attempt)
        except _Transient as exc:
            raise HostwindsUnavailable(
                f"Hostwinds {action} failed after {attempts} attempt(s); last: {exc.status}",
                f"check that {self.api_url} is reachable and Hostwinds is up; "
                "TENANTCOST_HOSTWINDS_TIMEOUT / TENANTCOST_HOSTWINDS_RETRIES set the patience. "
                "Nothing stored was changed.",
                action=action,
                last_status=exc.status,
                attempts=attempts,
            ) from None

    # ------------------------------------------------------------ actions

    def get_price_list(
        self,
        serviceid: str | None = None,
        *,
        drive_type: str | None = None,
        managed: int | None = None,
        disk: str | None = None,
    ) -> api.PriceList:
        form = api.price_list_form(serviceid, drive_type, managed, disk)
        return api.parse_price_list(self.call(form))

    def get_billingcycle_prices(self, serviceid: str) -> api.BillingCyclePrices:
        form = api.billingcycle_prices_form(serviceid)
        return api.parse_billingcycle_prices(self.call(form))

    def upgrade_instance(
        self, serviceid: str, rid: str, config: Mapping[str, Any] | None = None
    ) -> api.UpgradeResult:
        """Create an upgrade order (and invoice!) at Hostwinds for ``serviceid``.

        Refused unless the client was made with ``allow_upgrade_orders=True``: a cost sync must
        not place orders as a side effect of asking for a price.
        """
        if not self.allow_upgrade_orders:
            raise UserError(
                f"service {serviceid}: pricing a custom configuration places an upgrade order "
                "(and invoice) at Hostwinds, so it was not attempted",
                "pass --allow-upgrade-orders when that upgrade is really happening, "
                "or set the cost with `tenantcost costs override vps ID AMOUNT`",
            )
        form = api.upgrade_instance_form(serviceid, rid, config)
        return api.parse_upgrade_result(self.call(form, idempotent=False))

    def check_upgrade_order(self, serviceid: str) -> api.UpgradeOrder:
        form = api.check_upgrade_order_form(serviceid)
        return api.parse_upgrade_order(self.call(form))


class _Predicate:
    """tenacity retry strategy from a plain predicate on the raised exception."""

    def __init__(self, predicate: Callable[[BaseException], bool]) -> None:
        self.predicate = predicate

    def __call__(self, state: RetryCallState) -> bool:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        return exc is not None and self.predicate(exc)


# ---------------------------------------------------------------- per-instance price


@dataclass(frozen=True)
class Quote:
    """A normalised monthly price and how it was obtained (for reports and audit)."""

    monthly: Decimal
    cycle_price: Decimal
    billing_cycle: str
    basis: str


def price_instance(
    client: HostwindsClient,
    service_id: str,
    billing_cycle: str | None,
    plan_id: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> Quote:
    """The monthly USD cost of one Hostwinds VPS.

    * custom configuration (``config`` with ``rid`` and ram/cpu/disk/bandwidth): upgrade_instance
      then check_upgrade_order; the order total is taken as one cycle's price (ASSUMPTION, see
      hostwinds_api). NOTE: on real Hostwinds this creates an upgrade order and invoice.
    * ``plan_id``: get_price_list for the service, the plan's price for the cycle.
    * neither: get_billingcycle_prices for the service, the price for the cycle.

    Raises UserError (HostwindsError for API trouble) with the reason.
    """
    months = cycle_months(billing_cycle)
    cycle = str(billing_cycle).strip().lower()
    if config:
        rid = config.get("rid")
        if rid in (None, ""):
            raise UserError(
                f"service {service_id}: hostwinds_config has no 'rid'",
                'set hostwinds_config to {"rid": .., "ram": .., "cpu": .., "disk": .., '
                '"bandwidth": ..}',
            )
        client.upgrade_instance(service_id, str(rid), config)
        order = client.check_upgrade_order(service_id)
        parts = ", ".join(f"{k}={config[k]}" for k in api.CUSTOM_FIELDS if k in config)
        basis = f"custom rid={rid} {parts}: upgrade order total {order.total} / {months}"
        return Quote(monthly_cost(order.total, cycle), order.total, cycle, basis)
    if plan_id:
        plans = client.get_price_list(service_id)
        plan = plans.find(plan_id)
        if plan is None:
            raise UserError(
                f"service {service_id}: plan {plan_id!r} is not in the Hostwinds price list",
                "check vps_instances.hostwinds_plan_id (plans offered: "
                + ", ".join(p.id for p in plans.plans[:10])
                + ")",
            )
        price = _plan_price(plan, cycle, service_id)
        basis = f"plan {plan.id} ({plan.name}) {cycle} {price} / {months}"
        return Quote(monthly_cost(price, cycle), price, cycle, basis)
    cycles = client.get_billingcycle_prices(service_id)
    entry = cycles.prices.get(cycle)
    if entry is None:
        raise UserError(
            f"service {service_id}: Hostwinds has no {cycle} price "
            f"(offered: {', '.join(sorted(cycles.prices, key=_cycle_order))})",
            "check vps_instances.billing_cycle or set hostwinds_plan_id",
        )
    basis = f"service billing-cycle price {cycle} {entry.price} / {months}"
    return Quote(monthly_cost(entry.price, cycle), entry.price, cycle, basis)


def _cycle_order(cycle: str) -> int:
    return CYCLE_MONTHS.get(cycle, 999)


def _plan_price(plan: api.HostwindsPlan, cycle: str, service_id: str) -> Decimal:
    try:
        price = plan.price_for(cycle)
    except ValueError as exc:
        raise HostwindsResponseError(
            f"service {service_id}: plan {plan.id} {cycle} price is not a number ({exc})",
            api.SHAPE_HINT,
            action=api.GET_PRICE_LIST,
        ) from None
    if price is None or price < 0:
        raise UserError(
            f"service {service_id}: plan {plan.id} is not offered {cycle}",
            "check vps_instances.billing_cycle, or set a cost override",
        )
    return price
