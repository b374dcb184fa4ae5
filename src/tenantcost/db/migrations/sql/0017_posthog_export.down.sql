-- The watermarks are kept unless --drop-data (the outbox keeps what was queued); grants go.
DO $$
BEGIN
    IF to_regclass('posthog_export_state') IS NOT NULL THEN
        REVOKE ALL ON posthog_export_state FROM business_analysts, db_administrators;
    END IF;
END $$;
DROP INDEX IF EXISTS idx_outbox_due_order;
