-- API tokens expire and record when they were last used (issue 13).
-- Idempotent: every statement can run again on a database that already has them.

ALTER TABLE dashboard_users ADD COLUMN IF NOT EXISTS token_expires_at timestamptz NULL;
ALTER TABLE dashboard_users ADD COLUMN IF NOT EXISTS token_last_used_at timestamptz NULL;
COMMENT ON COLUMN dashboard_users.token_expires_at IS
'When the API token stops working (`tenantcost users token NAME --expires-in 30d`; default TENANTCOST_TOKEN_EXPIRY_DAYS). Every token has one.';
COMMENT ON COLUMN dashboard_users.token_last_used_at IS
'When the API token last authenticated a request (updated at most once a minute).';

-- Tokens issued before expiry existed get the default 90 days from the upgrade.
UPDATE dashboard_users
   SET token_expires_at = now() + interval '90 days'
 WHERE token_hash IS NOT NULL AND token_expires_at IS NULL;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conrelid = 'dashboard_users'::regclass
                      AND conname = 'dashboard_users_token_expires') THEN
        ALTER TABLE dashboard_users ADD CONSTRAINT dashboard_users_token_expires
            CHECK (token_hash IS NULL OR token_expires_at IS NOT NULL);
    END IF;
END
$$;
