-- name: book_for_update
SELECT name, document FROM price_books WHERE name = %(name)s FOR UPDATE;

-- name: book_upsert
-- (DO UPDATE takes the time and the user from the proposed row: Citus refuses functions there
-- on a reference table, which `db distribute` makes of price_books.)
INSERT INTO price_books (name, provider, effective_from, currency, source_url, source_date, document,
                         imported_at, imported_by)
VALUES (%(name)s, %(provider)s, %(effective_from)s, %(currency)s, %(source_url)s, %(source_date)s,
        %(document)s, now(), current_user)
ON CONFLICT (name) DO UPDATE
   SET provider = EXCLUDED.provider, effective_from = EXCLUDED.effective_from,
       currency = EXCLUDED.currency, source_url = EXCLUDED.source_url,
       source_date = EXCLUDED.source_date, document = EXCLUDED.document,
       imported_at = EXCLUDED.imported_at, imported_by = EXCLUDED.imported_by;

-- name: books_with_names
SELECT name, document FROM price_books
 WHERE %(provider)s::text IS NULL OR provider = %(provider)s
 ORDER BY provider, effective_from, name;
