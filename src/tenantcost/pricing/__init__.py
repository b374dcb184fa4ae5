"""Price books: versioned provider rates (per-second vCPU/RAM, storage, egress, plans)."""

from __future__ import annotations

from tenantcost.pricing.book import (
    Plan,
    PriceBook,
    Rates,
    book_in_force,
    books_in_dir,
    find_price_book,
    load_price_book,
    parse_price_book,
    shipped_price_books,
)

__all__ = [
    "Plan",
    "PriceBook",
    "Rates",
    "book_in_force",
    "books_in_dir",
    "find_price_book",
    "load_price_book",
    "parse_price_book",
    "shipped_price_books",
]
