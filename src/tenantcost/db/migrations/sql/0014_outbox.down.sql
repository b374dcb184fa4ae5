-- The outbox keeps undelivered events: kept unless --drop-data.
DO $$
BEGIN
    IF to_regclass('outbox') IS NOT NULL THEN
        REVOKE ALL ON outbox FROM business_analysts, db_administrators;
    END IF;
END $$;
