"""Price books stored in PostgreSQL: versioned, idempotent, chosen by effective date."""

from __future__ import annotations

import uuid
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


def store_raw(conn: Conn, name: str, effective: datetime, rates: dict[str, str]) -> None:
    """A book written straight into price_books, as one imported before the bounds existed."""
    from psycopg.types.json import Jsonb

    document = railway().model_dump(mode="json")
    document.update(name=name, effective_from=effective.isoformat())
    document["rates"].update(rates)
    conn.execute(
        "INSERT INTO price_books (name, provider, effective_from, currency, source_url, "
        "source_date, document) VALUES (%s, 'railway', %s, 'USD', 'x', '2026-01-01', %s)",
        (name, effective, Jsonb(document)),
    )
    conn.commit()


def test_a_bad_stored_book_is_skipped_with_one_warning(
    migrated_conn: Conn, caplog: pytest.LogCaptureFixture
) -> None:
    import_book(migrated_conn, railway())  # effective 2025-03-03
    name = f"railway-bad-{uuid.uuid4().hex[:6]}"
    store_raw(migrated_conn, name, datetime(2026, 1, 1, tzinfo=UTC), {"vcpu_per_second": "1E+30"})
    later = datetime(2026, 6, 1, tzinfo=UTC)
    with caplog.at_level("WARNING", logger="tenantcost.pricing"):
        assert stored_book_in_force(migrated_conn, "railway", later).name == "railway-2025-11"
        assert stored_book_in_force(migrated_conn, "railway", later).name == "railway-2025-11"
    warnings = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert len(warnings) == 1
    assert "rates.vcpu_per_second" in warnings[0] and "plausible bound 1" in warnings[0]


def test_collect_and_attribute_keep_working_past_a_bad_book(
    use_database: str, migrated_conn: Conn
) -> None:
    import_book(migrated_conn, railway())
    now = datetime.now(UTC)
    store_raw(migrated_conn, "railway-broken", now - timedelta(days=1), {"egress_gb": "1E+30"})
    # 2 GB of egress this hour: priced with the broken book it would be 2e30 USD, which
    # overflows the ledger, so every collect and attribute failed until the row was deleted.
    tenant = migrated_conn.execute(
        "INSERT INTO companies (name) VALUES ('acme') RETURNING id"
    ).fetchone()
    assert tenant is not None
    hour_start = now.replace(minute=0, second=0, microsecond=0)
    migrated_conn.execute("SELECT tenantcost_ensure_usage_partition(%s)", (hour_start,))
    migrated_conn.execute(
        "INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity) "
        "VALUES (%s, %s, 'egress_bytes', 'app', 2000000000)",
        (hour_start, tenant["id"]),
    )
    migrated_conn.commit()
    runner = CliRunner()
    collected = runner.invoke(app, ["collect", "--no-host", "--format", "json"])
    assert collected.exit_code == 0, collected.output
    hour = now.strftime("%Y-%m-%dT%H")
    attributed = runner.invoke(app, ["attribute", "--hour", hour, "--format", "json"])
    assert attributed.exit_code == 0, attributed.output
    assert "railway-broken" not in attributed.output
    listed = runner.invoke(app, ["pricebook", "list", "--stored", "--format", "csv"])
    assert "railway-broken" in listed.output and "INVALID (skipped)" in listed.output
    assert "egress_gb" in listed.output
