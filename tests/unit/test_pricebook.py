"""Price books: loading, validation errors naming the key, selection by date, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenantcost.errors import UserError
from tenantcost.pricing import (
    PriceBook,
    book_in_force,
    find_price_book,
    load_price_book,
    shipped_price_books,
)
from tenantcost.pricing.cli import app

GOOD = """
name = "test-book"
provider = "acme"
currency = "USD"
effective_from = 2025-01-01
source_url = "https://example.invalid/prices"
source_date = 2025-01-02
[rates]
vcpu_per_second = 0.000002156
ram_gb_per_second = 0.000001078
storage_gb_month = 0.25
egress_gb = 0.10
[[plans]]
name = "Hobby"
monthly_subscription = 5
included_usage_credit = 5
"""


def write(tmp_path: Path, text: str, name: str = "book.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_railway_book_derives_per_second_from_per_minute() -> None:
    book = find_price_book("railway-2025-11")
    assert book.rates.vcpu_per_second * 60 == Decimal("0.000463")
    assert book.rates.ram_gb_per_second == Decimal("0.000231") / 60
    assert book.rates.storage_gb_month == Decimal("0.15")
    assert book.rates.egress_gb == Decimal("0.05")
    assert [(p.name, p.monthly_subscription, p.included_usage_credit) for p in book.plans] == [
        ("Free", 0, 1),
        ("Hobby", 5, 5),
        ("Pro", 20, 20),
    ]
    assert book.effective_from == datetime(2025, 3, 3, tzinfo=UTC)


def test_seed_book_holds_the_seed_rates_exactly() -> None:
    rates = find_price_book("seed-002").rates
    assert rates.vcpu_per_second == Decimal("0.000002156")
    assert rates.ram_gb_per_second == Decimal("0.000001078")
    assert (rates.storage_gb_month, rates.egress_gb) == (Decimal("0.25"), Decimal("0.10"))
    assert rates.dedicated_ip_month == Decimal("4.99")


def test_books_survive_a_json_round_trip() -> None:
    for book in shipped_price_books():
        dumped = json.loads(json.dumps(book.model_dump(mode="json")))
        assert PriceBook.model_validate(dumped) == book


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("egress_gb = 0.10", "egress_gb = 0.10\nsurprise = 1", "rates.surprise: unknown key"),
        ("vcpu_per_second = 0.000002156", "vcpu_per_second = -1", "vcpu_per_second: must be >= 0"),
        ("storage_gb_month = 0.25\n", "", "rates.storage_gb_month: required but missing"),
        ('currency = "USD"', 'currency = "dollars"', "currency:"),
    ],
)
def test_bad_books_name_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new), "railway-2025-11.toml")
    with pytest.raises(UserError) as caught:
        load_price_book(path)
    assert caught.value.message.startswith("railway-2025-11.toml: ")
    assert message in caught.value.message


def test_per_minute_and_per_second_must_agree(tmp_path: Path) -> None:
    text = GOOD.replace("vcpu_per_second = 0.000002156", "vcpu_per_second = 1\nvcpu_per_minute = 6")
    with pytest.raises(UserError, match="not two different rates"):
        load_price_book(write(tmp_path, text))


def book(name: str, provider: str, when: str) -> PriceBook:
    text = GOOD.replace('"test-book"', f'"{name}"').replace('"acme"', f'"{provider}"')
    return PriceBook.model_validate(
        {**load_from(text), "effective_from": datetime.fromisoformat(when)}
    )


def load_from(text: str) -> dict[str, object]:
    from tenantcost.pricing.tomlio import parse_toml

    return parse_toml(text, "t")


def test_book_in_force_takes_the_latest_started_book_inclusive() -> None:
    old = book("old", "acme", "2025-01-01T00:00:00+00:00")
    new = book("new", "acme", "2025-03-03T00:00:00+00:00")
    other = book("other", "zeta", "2025-06-01T00:00:00+00:00")
    books = [old, new, other]
    just_before = datetime(2025, 3, 2, 23, 59, 59, tzinfo=UTC)
    assert book_in_force(books, just_before, "acme").name == "old"
    assert book_in_force(books, datetime(2025, 3, 3, tzinfo=UTC), "acme").name == "new"
    with pytest.raises(UserError, match="no price book"):
        book_in_force(books, datetime(2024, 12, 31, tzinfo=UTC), "acme")
    with pytest.raises(UserError, match="several providers"):
        book_in_force(books, datetime(2025, 7, 1, tzinfo=UTC))


runner = CliRunner(env={"COLUMNS": "300"})


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_cli_list_show_validate(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path, GOOD)
    listed = runner.invoke(app, ["list", "--dir", str(tmp_path), "--format", fmt])
    assert listed.exit_code == 0, listed.output
    assert "railway-2025-11" in listed.output and "test-book" in listed.output
    shown = runner.invoke(app, ["show", "seed-002", "--format", fmt])
    assert shown.exit_code == 0 and "0.000002156" in shown.output
    valid = runner.invoke(app, ["validate", str(path), "--format", fmt])
    assert valid.exit_code == 0 and "test-book" in valid.output
    if fmt == "json":
        assert json.loads(valid.output)[0]["provider"] == "acme"


def test_cli_validate_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("egress_gb = 0.10", "egress_gb = -0.10"), "bad.toml")
    done = subprocess.run(
        [sys.executable, "-m", "tenantcost", "pricebook", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "bad.toml: rates.egress_gb: must be >= 0" in done.stderr
