ALTER TABLE dashboard_users DROP COLUMN IF EXISTS token_last_used_at;
ALTER TABLE dashboard_users DROP COLUMN IF EXISTS token_expires_at;
