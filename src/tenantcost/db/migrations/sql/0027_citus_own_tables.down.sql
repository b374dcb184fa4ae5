-- 0027 down: the keys without the tenant again, where the table is still local. A table that
-- `tenantcost db distribute` placed keeps the tenant in its keys (Citus refuses any other
-- unique key there); `undistribute_table` it first to get the old keys back.
DO $$
DECLARE
    citus_tables text[] := '{}';
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT COALESCE(array_agg(logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition WHERE partmethod = 'h'$q$
           INTO citus_tables;
    END IF;
    IF NOT 'tier_decisions' = ANY (citus_tables) THEN
        ALTER TABLE tier_decisions DROP CONSTRAINT IF EXISTS tier_decisions_pkey;
        ALTER TABLE tier_decisions ADD CONSTRAINT tier_decisions_pkey PRIMARY KEY (id);
    END IF;
    IF NOT 'telemetry_app_events' = ANY (citus_tables) THEN
        ALTER TABLE telemetry_app_events DROP CONSTRAINT IF EXISTS telemetry_app_events_pkey;
        ALTER TABLE telemetry_app_events
            ADD CONSTRAINT telemetry_app_events_pkey PRIMARY KEY (source_id, event_id);
    END IF;
END
$$;
