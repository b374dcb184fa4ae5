-- The expiry rule goes; the expiry and last-use columns are data, kept unless --drop-data.
ALTER TABLE dashboard_users DROP CONSTRAINT IF EXISTS dashboard_users_token_expires;
