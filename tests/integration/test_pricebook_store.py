"""Price books stored in PostgreSQL: versioned, idempotent, chosen by effective date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from tenantcost.cli import app
from tenantcost.errors import UserError
from tenantcost.pricing.book import find_price_book
from tenantcost.pricing.store import import_book, stored_book_in_force, stored_books

pytestmark = pytest.mark.db
Conn = psycopg.Connection[dict[str, Any]]


def railway() -> Any:
    return find_price_book("railway-2025-11")


def test_import_is_idempotent_and_versions_do_not_overwrite(migrated_conn: Conn) -> None:
    book = railway()
    assert import_book(migrated_conn, book) == "imported"
    assert import_book(migrated_conn, book) == "unchanged"
    dearer = book.model_copy(
        update={"rates": book.rates.model_copy(update={"egress_gb": Decimal("0.06")})}
    )
    with pytest.raises(UserError, match="already stored with different content"):
        import_book(migrated_conn, dearer)
    assert stored_books(migrated_conn)[0].rates.egress_gb == Decimal("0.05")
    assert import_book(migrated_conn, dearer, replace=True) == "replaced"
    assert stored_books(migrated_conn)[0].rates.egress_gb == Decimal("0.06")


def test_book_in_force_is_chosen_by_date_at_the_boundary(migrated_conn: Conn) -> None:
    old = railway()  # effective 2025-03-03
    new_from = datetime(2026, 1, 1, tzinfo=UTC)
    new = old.model_copy(
        update={
            "name": "railway-2026-01",
            "effective_from": new_from,
            "rates": old.rates.model_copy(update={"egress_gb": Decimal("0.04")}),
        }
    )
    import_book(migrated_conn, old)
    import_book(migrated_conn, new)
    just_before = new_from - timedelta(microseconds=1)
    assert stored_book_in_force(migrated_conn, "railway", just_before).name == "railway-2025-11"
    assert stored_book_in_force(migrated_conn, "railway", new_from).name == "railway-2026-01"
    with pytest.raises(UserError, match="no price book"):
        stored_book_in_force(migrated_conn, "railway", datetime(2024, 1, 1, tzinfo=UTC))


def test_cli_import_and_list_stored(use_database: str) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["pricebook", "import", "seed-002"])
    assert first.exit_code == 0, first.output
    assert "seed-002: imported" in first.output
    again = runner.invoke(app, ["pricebook", "import", "seed-002"])
    assert "seed-002: unchanged" in again.output
    listed = runner.invoke(app, ["pricebook", "list", "--stored", "--format", "csv"])
    assert "seed-002,seed-002,USD" in listed.output and ",database" in listed.output
