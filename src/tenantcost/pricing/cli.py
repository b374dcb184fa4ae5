"""``tenantcost pricebook``: list, show and validate price book files (no database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tenantcost.output import OutputFormat, emit
from tenantcost.pricing.book import (
    PriceBook,
    books_in_dir,
    find_price_book,
    load_price_book,
    shipped_price_books,
)

app = typer.Typer(
    help="Price books: versioned provider rates (per-second vCPU/RAM, storage, egress, plans).",
    no_args_is_help=True,
)

FORMAT_HELP = "Output format: table (people), json or csv (machines)."


def summary_row(book: PriceBook, origin: str) -> dict[str, Any]:
    """One line per book: identity, when it took effect and how many plans it holds."""
    return {
        "name": book.name,
        "provider": book.provider,
        "currency": book.currency,
        "effective_from": book.effective_from,
        "plans": len(book.plans),
        "source_date": book.source_date,
        "origin": origin,
    }


def detail_rows(book: PriceBook) -> list[dict[str, Any]]:
    """Every rate and plan of a book as ``item / value / unit`` rows."""
    r = book.rates
    rows: list[dict[str, Any]] = [
        {"item": "vcpu_per_second", "value": r.vcpu_per_second, "unit": "per vCPU-second"},
        {"item": "ram_gb_per_second", "value": r.ram_gb_per_second, "unit": "per GB-second"},
        {"item": "storage_gb_month", "value": r.storage_gb_month, "unit": "per GB-month"},
        {"item": "egress_gb", "value": r.egress_gb, "unit": "per GB"},
    ]
    if r.vcpu_per_minute is not None:
        rows.insert(1, {"item": "vcpu_per_minute", "value": r.vcpu_per_minute, "unit": "stated"})
    if r.ram_gb_per_minute is not None:
        rows.insert(
            -2, {"item": "ram_gb_per_minute", "value": r.ram_gb_per_minute, "unit": "stated"}
        )
    if r.dedicated_ip_month is not None:
        rows.append({"item": "dedicated_ip_month", "value": r.dedicated_ip_month, "unit": "per IP"})
    for plan in book.plans:
        overage = "overage billed" if plan.overage_billed else "no overage: stops at credit"
        rows.append(
            {
                "item": f"plan {plan.name} subscription",
                "value": plan.monthly_subscription,
                "unit": "per month",
            }
        )
        rows.append(
            {
                "item": f"plan {plan.name} included credit",
                "value": plan.included_usage_credit,
                "unit": f"per month, {overage}",
            }
        )
    return rows


@app.command("list")
def list_books(
    directory: Path | None = typer.Option(
        None, "--dir", help="Also list every *.toml price book in this folder."
    ),
    stored: bool = typer.Option(
        False, "--stored", help="Also list the books imported into the database."
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
) -> None:
    """List the shipped price books (and those in --dir / the database) with their dates."""
    rows = [summary_row(b, "shipped") for b in shipped_price_books()]
    if directory is not None:
        rows += [summary_row(b, str(directory)) for b in books_in_dir(directory)]
    if stored:
        from tenantcost.db.connect import connect
        from tenantcost.pricing.store import bad_stored_books, stored_books

        with connect() as conn:
            rows += [summary_row(b, "database") for b in stored_books(conn)]
            rows += [
                {"name": b["name"], "origin": f"database, INVALID (skipped): {b['problem']}"}
                for b in bad_stored_books(conn)
            ]
    emit(rows, fmt, title="Price books")


@app.command("show")
def show(
    book: str = typer.Argument(..., help="A shipped book name (see `list`) or a book file path."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
) -> None:
    """Show every rate and plan in one book, in the book's currency."""
    found = find_price_book(book)
    title = (
        f"{found.name} ({found.provider}, {found.currency}, from {found.effective_from:%Y-%m-%d})"
    )
    emit(detail_rows(found), fmt, columns=["item", "value", "unit"], title=title)


@app.command("validate")
def validate(
    path: Path = typer.Argument(..., help="The price book TOML file to check."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP),
) -> None:
    """Check a price book file; exit 0 with a summary, or exit 2 naming the bad key."""
    emit([summary_row(load_price_book(path), str(path))], fmt, title="Valid price book")


@app.command("import")
def import_(
    book: str = typer.Argument(..., help="A book file path, or a shipped book name."),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="Overwrite a stored book of the same name (to fix a mistake; price changes "
        "should be a new book with a later effective_from).",
    ),
) -> None:
    """Validate a price book and store it in the database, versioned by its effective date.

    Usage is priced with the book in force at the usage's time (latest effective_from at or
    before it). Importing the same content twice changes nothing.
    """
    from tenantcost.db.connect import connect
    from tenantcost.pricing.store import import_book

    found = find_price_book(book)
    with connect() as conn:
        outcome = import_book(conn, found, replace=replace)
    print(f"{found.name}: {outcome} (effective from {found.effective_from:%Y-%m-%d %H:%M} UTC)")
