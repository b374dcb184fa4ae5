-- name: book_for_update
SELECT name, document FROM price_books WHERE name = %(name)s FOR UPDATE;

-- name: book_upsert
INSERT INTO price_books (name, provider, effective_from, currency, source_url, source_date, document)
VALUES (%(name)s, %(provider)s, %(effective_from)s, %(currency)s, %(source_url)s, %(source_date)s,
        %(document)s)
ON CONFLICT (name) DO UPDATE
   SET provider = EXCLUDED.provider, effective_from = EXCLUDED.effective_from,
       currency = EXCLUDED.currency, source_url = EXCLUDED.source_url,
       source_date = EXCLUDED.source_date, document = EXCLUDED.document,
       imported_at = now(), imported_by = current_user;

-- name: books_with_names
SELECT name, document FROM price_books
 WHERE %(provider)s::text IS NULL OR provider = %(provider)s
 ORDER BY provider, effective_from, name;
