"""What a person reads on the dashboard: column headers, legends, setting names and units.

Column names stay the views' names in JSON, CSV and the API; only the HTML shows these labels.
Every column a dashboard table shows and every editable setting has an explicit label (a test
checks), so no snake_case reaches a reader.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

#: Table headers (short: money cells already carry "$", percents "%").
COLUMN_LABELS = {
    "company_name": "Company",
    "plan_name": "Plan",
    "business_health_status": "Health",
    "cost_efficiency_score": "Efficiency score (0–100)",
    "gross_margin_ratio": "Gross margin (ratio)",
    "gross_margin_pct": "Gross margin (%)",
    "monthly_subscription_revenue": "Revenue",
    "total_operational_cost": "Cost",
    "total_monthly_cost": "Cost",
    "monthly_profit": "Profit",
    "optimization_category": "Opportunity category",
    "optimization_opportunity": "Opportunity",
    "tenant_count": "Tenants",
    "avg_infrastructure_cost": "Avg VPS cost",
    "avg_email_service_cost": "Avg email-service cost",
    "avg_usage_cost": "Avg usage cost",
    "avg_total_cost": "Avg total cost",
    "avg_monthly_profit": "Avg profit",
    "avg_efficiency_ratio": "Payments ÷ cost (avg ratio)",
    "emails_sent": "Emails sent",
    "cost_per_email_delivered": "Cost per email",
    "business_efficiency_ratio": "Payments ÷ cost (ratio)",
    "efficiency_category": "Efficiency category",
}

#: Words in values people read (ledger sources, fidelity, signals, alert kinds).
VALUE_LABELS = {
    "dedicated_ips": "Dedicated IPs",
    "shared_vps": "Shared VPS (allocated)",
    "shared_ips": "Shared IPs (allocated)",
    "platform_overhead": "Platform overhead (allocated)",
    "addons": "Add-on delivery",
    "network": "Network egress",
    "vps": "VPS",
    "suggest_upgrade": "Suggest upgrade",
    "soft_throttle": "Soft throttle",
    "hard_throttle": "Hard throttle",
    "cost_ceiling": "Cost ceiling",
    "storage_gb_ceiling": "Storage ceiling (GB)",
    "requests_per_hour_ceiling": "Requests per hour ceiling",
    "tier_margin": "Tier margin below floor",
    "tenant_above_tier_average": "Tenant far above tier average",
    "cost_jump": "Sudden cost jump",
    "plan_cost_above_price": "Plan costs more than its price",
    "normal": "Normal",
}


def column_label(column: str) -> str:
    """The header people read for a view column (explicit label, else words)."""
    return COLUMN_LABELS.get(column) or words(column)


def words(text: str | None) -> str:
    """A snake_case value as words people read ("list_price" → "List price")."""
    if not text:
        return ""
    if text in VALUE_LABELS:
        return VALUE_LABELS[text]
    spaced = text.replace("_", " ")
    return spaced[:1].upper() + spaced[1:]


@dataclass(frozen=True)
class SettingLabel:
    label: str
    kind: str  # USD | percent | hours | count | choice | GB | ms

    @property
    def field_label(self) -> str:
        """The form field's label: its unit, never "USD" for a percent or a count."""
        return {
            "USD": "New value (USD)",
            "percent": "New value (percent, 0–100)",
            "hours": "New value (hours)",
            "count": "New value (count)",
            "choice": "New value (choice)",
            "GB": "New value (GB)",
            "ms": "New value (milliseconds)",
        }[self.kind]

    @property
    def input_mode(self) -> str:
        return "numeric" if self.kind in ("hours", "count") else "decimal"


SETTING_LABELS = {
    "smtp_ip_monthly_cost": SettingLabel("Dedicated SMTP IP, monthly cost", "USD"),
    "shared_cost_allocation": SettingLabel("Shared VPS/IP cost allocation", "choice"),
    "overhead_allocation": SettingLabel("Platform overhead allocation", "choice"),
    "control_plane_monthly_cost": SettingLabel("Control plane, monthly cost", "USD"),
    "annual_prepay_discount_pct": SettingLabel("Annual pre-pay discount", "percent"),
    "multi_project_discount_pct": SettingLabel("Multi-project discount", "percent"),
    "tier_step_down_hours": SettingLabel("Hours before a tier signal steps down", "hours"),
    "tenant_outlier_pct": SettingLabel("Tenant outlier alert (% of tier average)", "percent"),
    "free_abuse_threshold": SettingLabel("Free-tier abuse group size", "count"),
}


def setting_label(key: str, choices: bool = False) -> SettingLabel:
    """The label and kind of a cost setting; unknown keys are judged by their name."""
    if key in SETTING_LABELS:
        return SETTING_LABELS[key]
    if choices:
        kind = "choice"
    elif key.endswith("_pct"):
        kind = "percent"
    elif key.endswith("_hours"):
        kind = "hours"
    elif key.endswith(("_cost", "_price")):
        kind = "USD"
    else:
        kind = "count"
    return SettingLabel(words(key), kind)


#: Tier fields the settings page edits, with their kind (as ``tenantcost tiers set``).
TIER_FIELDS = {
    "monthly_price": SettingLabel("Price (USD/month)", "USD"),
    "cost_ceiling": SettingLabel("Cost ceiling (USD/month)", "USD"),
    "storage_gb_ceiling": SettingLabel("Storage ceiling (GB)", "GB"),
    "requests_per_hour_ceiling": SettingLabel("Requests per hour ceiling", "count"),
    "latency_target_ms": SettingLabel("Latency target (ms)", "ms"),
    "margin_floor_pct": SettingLabel("Margin floor (%)", "percent"),
}


def audit_label(entity_id: str) -> str:
    """A settings audit row's subject as people read it (``tier STARTER.cost_ceiling`` →
    "Tier STARTER: Cost ceiling (USD/month)")."""
    if entity_id.startswith("tier ") and "." in entity_id:
        tier, name = entity_id[5:].split(".", 1)
        what = TIER_FIELDS[name].label if name in TIER_FIELDS else words(name)
        return f"Tier {tier}: {what}"
    return setting_label(entity_id).label


def code_words(text: str | None) -> Markup:
    """Prose that names settings or values (``overhead_allocation``): escaped, with each such
    identifier set as code, so it reads as a name rather than as a typo."""
    import re

    escaped = str(escape(text or ""))
    return Markup(re.sub(r"\b[a-z]+(?:_[a-z0-9]+)+\b", r"<code>\g<0></code>", escaped))


def age_words(seconds: float | None) -> str:
    """(pure) A waiting time as people say it: '45 s', '12 min', '3 h', '2 days'."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 2 * 3600:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s // 3600} h"
    return f"{s // 86400} days"
