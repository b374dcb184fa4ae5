"""The CLI (`tiers set`) and the settings page accept the same tier values: one limits table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tenantcost.errors import UserError
from tenantcost.tiers.cli import tier_input
from tenantcost.web.tier_changes import parse_tier_form

CURRENT = {
    "name": "PRO",
    "monthly_price": Decimal("25.00"),
    "cost_ceiling": Decimal("5.0000"),
    "storage_gb_ceiling": Decimal("10.000"),
    "requests_per_hour_ceiling": 500,
    "latency_target_ms": 200,
    "margin_floor_pct": Decimal("70.00"),
}
OPTION = {
    "monthly_price": "price",
    "cost_ceiling": "cost_ceiling",
    "storage_gb_ceiling": "storage_gb",
    "requests_per_hour_ceiling": "requests_per_hour",
    "latency_target_ms": "latency_ms",
    "margin_floor_pct": "margin_floor",
}


def via_cli(field: str, text: str) -> Any:
    options: dict[str, str | None] = dict.fromkeys(OPTION.values())
    options[OPTION[field]] = text
    try:
        return tier_input(**options)[field]
    except UserError:
        return "rejected"


def via_form(field: str, text: str) -> Any:
    form = {k: str(v) for k, v in CURRENT.items() if k != "name"}
    form[field] = text
    parsed = parse_tier_form(CURRENT, form)
    if field in parsed.errors:
        return "rejected"
    changed = {f: new for f, _, new in parsed.changes}
    return Decimal(changed.get(field, str(CURRENT[field])))


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("cost_ceiling", "0.1234", Decimal("0.1234")),  # numeric(12,4): 4 decimals
        ("cost_ceiling", "0.12345", "rejected"),
        ("cost_ceiling", "0", "rejected"),  # must be above 0
        ("monthly_price", "19.99", Decimal("19.99")),
        ("monthly_price", "19.999", "rejected"),  # numeric(10,2)
        ("storage_gb_ceiling", "999999999.999", Decimal("999999999.999")),  # numeric(12,3)
        ("storage_gb_ceiling", "1000000000", "rejected"),  # would overflow the column
        ("requests_per_hour_ceiling", "2147483647", Decimal(2147483647)),
        ("requests_per_hour_ceiling", "2147483648", "rejected"),  # integer column
        ("latency_target_ms", "1.5", "rejected"),
        ("margin_floor_pct", "100.01", "rejected"),
        ("margin_floor_pct", "-1", "rejected"),
    ],
)
def test_both_surfaces_take_the_same_values(field: str, text: str, expected: Any) -> None:
    assert via_form(field, text) == expected
    cli = via_cli(field, text)
    assert (cli if cli == "rejected" else Decimal(cli)) == expected
