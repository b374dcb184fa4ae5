"""Price books kept in PostgreSQL, so usage is priced with the book in force at its time."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.pricing.book import PriceBook, book_in_force
from tenantcost.pricing.tomlio import describe_error

log = logging.getLogger("tenantcost.pricing")
_warned: set[str] = set()

ImportOutcome = Literal["imported", "unchanged", "replaced"]


def _sql(name: str) -> str:
    return queries("tenantcost.pricing")[name]


def import_book(conn: Connection, book: PriceBook, *, replace: bool = False) -> ImportOutcome:
    """Store a validated book. Books are versions: changed rates need a new name.

    Re-importing identical content is a no-op; different content under a stored name is
    refused unless ``replace`` (for correcting a typo, not for a price change).
    """
    from psycopg.types.json import Jsonb

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
    """Every stored book that still validates; a bad one is skipped with one warning.

    A book stored before the plausibility bounds (e.g. a rate of 1e30) or edited by hand
    must not stop pricing with every other book, nor collection: it is left out, so usage
    is priced with the previous book in force, or left unpriced ("no price book in force")
    and kept. Each bad book is logged once per process; ``bad_stored_books`` lists them.
    """
    rows = conn.execute(_sql("books_with_names"), {"provider": provider}).fetchall()
    books: list[PriceBook] = []
    for row in rows:
        try:
            books.append(PriceBook.model_validate(row["document"]))
        except ValidationError as exc:
            problem = "; ".join(describe_error(err) for err in exc.errors())
            if row["name"] not in _warned:
                _warned.add(row["name"])
                log.warning(
                    "stored price book %s is invalid and is skipped: %s "
                    "(fix it with `tenantcost pricebook import FILE --replace`)",
                    row["name"],
                    problem,
                )
    return books


def bad_stored_books(conn: Connection) -> list[dict[str, str]]:
    """Stored books that no longer validate: name and every problem (``pricebook list``)."""
    bad: list[dict[str, str]] = []
    for row in conn.execute(_sql("books_with_names"), {"provider": None}).fetchall():
        try:
            PriceBook.model_validate(row["document"])
        except ValidationError as exc:
            problem = "; ".join(describe_error(err) for err in exc.errors())
            bad.append({"name": row["name"], "problem": problem})
    return bad


def stored_book_in_force(conn: Connection, provider: str, at: datetime) -> PriceBook:
    """The stored book for ``provider`` whose effective_from is the latest at or before ``at``."""
    return book_in_force(stored_books(conn, provider), at, provider)
