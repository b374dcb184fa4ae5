-- The report history is kept unless --drop-data.
DO $$
BEGIN
    IF to_regclass('report_runs') IS NOT NULL THEN
        REVOKE ALL ON report_schedule_state, report_runs, report_deliveries
            FROM business_analysts, db_administrators;
    END IF;
END $$;
