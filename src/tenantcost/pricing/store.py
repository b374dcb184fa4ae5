"""Price books kept in PostgreSQL, so usage is priced with the book in force at its time."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from psycopg.types.json import Jsonb

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.pricing.book import PriceBook, book_in_force

ImportOutcome = Literal["imported", "unchanged", "replaced"]


def _sql(name: str) -> str:
    return queries("tenantcost.pricing")[name]


def import_book(conn: Connection, book: PriceBook, *, replace: bool = False) -> ImportOutcome:
    """Store a validated book. Books are versions: changed rates need a new name.

    Re-importing identical content is a no-op; different content under a stored name is
    refused unless ``replace`` (for correcting a typo, not for a price change).
    """
    document = book.model_dump(mode="json")
    with conn.transaction():
        row = conn.execute(_sql("book_for_update"), {"name": book.name}).fetchone()
        if row is not None and row["document"] == document:
            return "unchanged"
        if row is not None and not replace:
            raise UserError(
                f"price book {book.name!r} is already stored with different content",
                "price changes are new versions: give the file a new name and effective_from "
                "(or pass --replace to correct a mistake in the stored one)",
            )
        conn.execute(
            _sql("book_upsert"),
            {
                "name": book.name,
                "provider": book.provider,
                "effective_from": book.effective_from,
                "currency": book.currency,
                "source_url": book.source_url,
                "source_date": book.source_date,
                "document": Jsonb(document),
            },
        )
    return "replaced" if row is not None else "imported"


def stored_books(conn: Connection, provider: str | None = None) -> list[PriceBook]:
    rows = conn.execute(_sql("books"), {"provider": provider}).fetchall()
    return [PriceBook.model_validate(row["document"]) for row in rows]


def stored_book_in_force(conn: Connection, provider: str, at: datetime) -> PriceBook:
    """The stored book for ``provider`` whose effective_from is the latest at or before ``at``."""
    return book_in_force(stored_books(conn, provider), at, provider)
