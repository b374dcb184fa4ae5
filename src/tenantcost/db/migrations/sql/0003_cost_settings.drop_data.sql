DROP TABLE IF EXISTS price_books;
DROP TABLE IF EXISTS cost_audit;
DROP TABLE IF EXISTS cost_settings;
