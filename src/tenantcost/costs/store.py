"""Finance's cost inputs: the audited settings and per-record overrides.

Each public function is one unit of work in one transaction: it validates, changes, audits
and commits together, or changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from tenantcost.costs.audit import audit_context, record_change, trigger_missing, writer_audits
from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.numbers import parse_decimal

ResourceKind = Literal["vps", "ip"]

# Largest amount each column holds: NUMERIC(8,2) for VPS, NUMERIC(6,2) for IPs.
MAX_AMOUNT: dict[ResourceKind, Decimal] = {
    "vps": Decimal("999999.99"),
    "ip": Decimal("9999.99"),
}


@dataclass(frozen=True)
class SettingSpec:
    """An amount setting (``max_amount``: USD, 2 decimals) or a choice (``choices``)."""

    description: str
    max_amount: Decimal | None = None
    choices: tuple[str, ...] = ()
    reprices_ips: bool = False
    min_amount: Decimal = Decimal(0)
    integer: bool = False

    def parse(self, key: str, text: str) -> str:
        """The value's canonical text, or UserError naming the setting and what it accepts."""
        if self.choices:
            choice = text.strip().lower()
            if choice not in self.choices:
                raise UserError(
                    f"{key}: {text!r} is not one of {', '.join(self.choices)}",
                    f"e.g. tenantcost costs set {key} {self.choices[0]} --reason ...",
                )
            return choice
        assert self.max_amount is not None
        amount = parse_amount(text, what=key, maximum=self.max_amount)
        if amount < self.min_amount:
            raise UserError(f"{key}: {amount} is below the smallest allowed {self.min_amount}")
        if self.integer:
            if amount != amount.to_integral_value():
                raise UserError(f"{key}: {amount} is not a whole number", "give e.g. 6")
            return str(amount.to_integral_value())
        return str(amount)

    def same(self, old: str, new: str) -> bool:
        return old == new if self.choices else Decimal(old) == Decimal(new)


SETTINGS: dict[str, SettingSpec] = {
    "smtp_ip_monthly_cost": SettingSpec(
        "Monthly USD per dedicated SMTP IP; re-prices every billable IP without an override.",
        MAX_AMOUNT["ip"],
        reprices_ips=True,
    ),
    "shared_cost_allocation": SettingSpec(
        "How shared VPS/IP cost (tenant_id NULL) is charged to tenants: none (an explicit "
        "unallocated line), even, or emails_sent (share of emails in the last 30 days; even "
        "when nobody sent any). The current period's figures are recomputed at once.",
        choices=("none", "even", "emails_sent"),
    ),
    "overhead_allocation": SettingSpec(
        "How platform overhead (control plane, idle, unattributed and background usage) is "
        "charged to tenants: none (lines of their own), even, or usage (in proportion to each "
        "tenant's usage cost; even when nobody used anything).",
        choices=("none", "even", "usage"),
    ),
    "control_plane_monthly_cost": SettingSpec(
        "Monthly USD the platform itself costs (seed 002: the DLS control plane, 30); its own "
        "line, or spread by overhead_allocation.",
        Decimal(1000000),
    ),
    "annual_prepay_discount_pct": SettingSpec(
        "Percent off the plan price for annual pre-pay subscriptions (seed 002: 15).",
        Decimal(100),
    ),
    "multi_project_discount_pct": SettingSpec(
        "Percent off for organisations with 5+ projects (seed 002: 10).", Decimal(100)
    ),
    "tier_step_down_hours": SettingSpec(
        "Hours back under a ceiling before a tier signal steps down (hysteresis).",
        Decimal(168),
        min_amount=Decimal(1),
        integer=True,
    ),
    "tenant_outlier_pct": SettingSpec(
        "Alert when a tenant costs at least this percent of its tier's average.",
        Decimal(100000),
        min_amount=Decimal(100),
    ),
    "free_abuse_threshold": SettingSpec(
        "FREE tenants sharing a signup email domain or IP before they are flagged.",
        Decimal(1000),
        min_amount=Decimal(2),
        integer=True,
    ),
}


def _sql(name: str) -> str:
    return queries("tenantcost.costs")[name]


def parse_amount(text: str, *, what: str, maximum: Decimal) -> Decimal:
    """A non-negative USD amount with at most 2 decimals that fits its column (strict:
    plain digits, see :func:`tenantcost.numbers.parse_decimal`)."""
    amount = parse_decimal(text, what=what, maximum=maximum, places=2)
    return amount.quantize(Decimal("0.01"))


def require_reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise UserError("a reason is required for every cost change", 'pass --reason "…"')
    return reason.strip()


@dataclass(frozen=True)
class SettingChange:
    key: str
    old: str
    new: str
    repriced: int


def set_setting(conn: Connection, key: str, value: str, reason: str | None) -> SettingChange:
    """Change a cost setting, re-price what depends on it, audit both; all or nothing."""
    spec = SETTINGS.get(key)
    if spec is None:
        raise UserError(
            f"unknown cost setting {key!r}", f"known settings: {', '.join(sorted(SETTINGS))}"
        )
    new = spec.parse(key, value)
    why = require_reason(reason)
    with conn.transaction():
        row = conn.execute(_sql("setting_get_for_update"), {"key": key}).fetchone()
        if row is None:
            raise UserError(f"cost setting {key!r} is missing", "run `tenantcost db upgrade`")
        old = str(row["value"])
        repriced = 0
        if not spec.same(old, new):
            audit_context(conn, "finance", why)
            conn.execute(_sql("setting_update"), {"key": key, "value": new})
            if writer_audits(conn, "cost_settings"):  # Citus: no audit trigger
                record_change(conn, "setting", key, old, new, "finance", why)
            if spec.reprices_ips:
                reprice_why = f"{key} changed: {why}"
                audit_context(conn, "setting", reprice_why)
                targets = []
                if writer_audits(conn, "smtp_ip_addresses"):  # Citus: no audit trigger
                    targets = conn.execute(_sql("reprice_ips_targets"), {"value": new}).fetchall()
                repriced = conn.execute(
                    _sql("reprice_ips"), {"value": new, "reason": reprice_why}
                ).rowcount
                for ip in targets:
                    old_cost = str(ip["approximate_cost"])
                    record_change(conn, "ip", ip["id"], old_cost, new, "setting", reprice_why)
    return SettingChange(key=key, old=old, new=new, repriced=repriced)


def list_settings(conn: Connection) -> list[dict[str, Any]]:
    return conn.execute(_sql("settings_list")).fetchall()


def _locked(conn: Connection, kind: ResourceKind, resource_id: str) -> dict[str, Any]:
    row = conn.execute(_sql(f"{kind}_for_update"), {"id": resource_id}).fetchone()
    if row is None:
        table = "vps_instances" if kind == "vps" else "smtp_ip_addresses"
        raise UserError(f"no {kind} with id {resource_id} in {table}", "check the id")
    return row


@dataclass(frozen=True)
class OverrideChange:
    kind: ResourceKind
    id: str
    old: Decimal
    new: Decimal


def override_cost(
    conn: Connection, kind: ResourceKind, resource_id: str, amount_text: str, reason: str | None
) -> OverrideChange:
    """Finance sets a record's cost by hand; sync and constant changes then leave it alone."""
    amount = parse_amount(amount_text, what=f"{kind} {resource_id}", maximum=MAX_AMOUNT[kind])
    why = require_reason(reason)
    with conn.transaction():
        row = _locked(conn, kind, resource_id)
        audit_context(conn, "override", why)
        conn.execute(_sql(f"{kind}_set_override"), {"id": resource_id, "amount": amount})
        if not row["cost_override"] or row["approximate_cost"] != amount:
            _audit_untriggered(
                conn, kind, resource_id, (row["approximate_cost"], amount), "override", why
            )
    return OverrideChange(kind, resource_id, row["approximate_cost"], amount)


TABLES: dict[ResourceKind, str] = {"vps": "vps_instances", "ip": "smtp_ip_addresses"}


def _audit_untriggered(
    conn: Connection,
    kind: ResourceKind,
    resource_id: str,
    change: tuple[Decimal, Decimal],
    source: str,
    why: str,
) -> None:
    """The audit row the trigger writes on PostgreSQL, where none can exist (Citus)."""
    if writer_audits(conn, TABLES[kind]):
        record_change(conn, kind, resource_id, str(change[0]), str(change[1]), source, why)


def clear_override(
    conn: Connection, kind: ResourceKind, resource_id: str, reason: str | None
) -> OverrideChange:
    """Hand the record back to automatic pricing (the IP constant at once; VPS at next sync)."""
    why = require_reason(reason)
    with conn.transaction():
        row = _locked(conn, kind, resource_id)
        if not row["cost_override"]:
            raise UserError(f"{kind} {resource_id} has no override to clear")
        new = row["approximate_cost"]
        audit_context(conn, "clear-override", why)
        if kind == "ip" and trigger_missing(conn, TABLES[kind], "trg_smtp_ip_default_cost"):
            constant = conn.execute(
                _sql("setting_get_for_update"), {"key": "smtp_ip_monthly_cost"}
            ).fetchone()
            result = conn.execute(
                _sql("ip_clear_override_priced"),
                {
                    "id": resource_id,
                    "constant": constant["value"] if constant else None,
                    "at": conn.execute("SELECT now() AS at").fetchone()["at"],  # type: ignore[index]
                },
            ).fetchone()
            assert result is not None
            new = result["approximate_cost"]
        elif kind == "ip":
            result = conn.execute(_sql("ip_clear_override"), {"id": resource_id}).fetchone()
            assert result is not None
            new = result["approximate_cost"]
        else:
            conn.execute(_sql("vps_clear_override"), {"id": resource_id})
        _audit_untriggered(
            conn, kind, resource_id, (row["approximate_cost"], new), "clear-override", why
        )
    return OverrideChange(kind, resource_id, row["approximate_cost"], new)
