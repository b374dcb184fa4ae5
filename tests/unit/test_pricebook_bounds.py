"""Price book plausibility (issue 13 item 8): bounds per rate, finite, no silent underflow."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tenantcost.errors import UserError
from tenantcost.pricing import PriceBook, load_price_book
from tests.unit.test_pricebook import GOOD, write

VCPU = "vcpu_per_second = 0.000002156"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (VCPU, "vcpu_per_second = 1000000000000000000000000000000", "rates.vcpu_per_second: "),
        (VCPU, "vcpu_per_second = 1.000001", "above the plausible bound 1 USD per vCPU-second"),
        (VCPU, "vcpu_per_minute = 60.5", "rates.vcpu_per_minute: 60.5 is above the plausible"),
        ("storage_gb_month = 0.25", "storage_gb_month = 100.01", "bound 100 USD per GB-month"),
        ("egress_gb = 0.10", "egress_gb = 250.0", "egress_gb: 250.0 is above the plausible"),
        ("egress_gb = 0.10", "egress_gb = 0.10\ndedicated_ip_month = 1000.01", "per IP-month"),
        ("monthly_subscription = 5", "monthly_subscription = 1000001", "USD per month"),
        (VCPU, "vcpu_per_second = 0.0000000000001", "below the smallest non-zero rate 1E-12"),
        (VCPU, "vcpu_per_second = 1e-400", "'1e-400' is not a plain decimal"),
        (VCPU, "vcpu_per_second = 2.156e-6", "'2.156e-6' is not a plain decimal"),
        (VCPU, "vcpu_per_second = inf", "'inf' is not a plain decimal"),
        (VCPU, "vcpu_per_second = nan", "'nan' is not a plain decimal"),
        (VCPU, "vcpu_per_second = 0.000_002", "'0.000_002' is not a plain decimal"),
        (VCPU, "vcpu_per_second = -0.0", "is negative"),
    ],
)
def test_implausible_rates_are_refused_naming_key_and_bound(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(UserError) as caught:
        load_price_book(write(tmp_path, GOOD.replace(old, new)))
    assert message in caught.value.message
    assert caught.value.message.startswith("book.toml: ")


@pytest.mark.parametrize(
    "new",
    [
        "vcpu_per_second = 1",  # exactly the bound
        "vcpu_per_second = 0.000000000001",  # exactly the smallest non-zero rate
        "vcpu_per_second = 0",  # free
    ],
)
def test_rates_at_the_bounds_are_accepted(tmp_path: Path, new: str) -> None:
    book = load_price_book(write(tmp_path, GOOD.replace(VCPU, new)))
    assert book.rates.vcpu_per_second == Decimal(new.split(" = ")[1])


def test_a_stored_document_is_checked_too() -> None:
    """A book stored before the bounds (jsonb) no longer validates when read back."""
    good = load_price_book(
        Path(__file__).parent.parent.parent / "src/tenantcost/pricebooks/seed-002.toml"
    )
    document = good.model_dump(mode="json")
    document["rates"]["egress_gb"] = "1E+30"
    with pytest.raises(ValueError, match="above the plausible bound 100"):
        PriceBook.model_validate(document)
    document["rates"]["egress_gb"] = "1E-400"
    with pytest.raises(ValueError, match="below the smallest non-zero rate"):
        PriceBook.model_validate(document)
