-- Seed rollback for step 2: indexes, constraints and the pricing trigger go; data stays.
-- On Citus (a reference table: no trigger) the column default that stood in for it goes.
DO $$
DECLARE
    citus_tables text[] := '{}';
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT COALESCE(array_agg(logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition$q$ INTO citus_tables;
    END IF;
    IF 'smtp_ip_addresses' = ANY (citus_tables) THEN
        ALTER TABLE smtp_ip_addresses ALTER COLUMN approximate_cost SET DEFAULT 0.00,
                                      ALTER COLUMN cost_source DROP DEFAULT;
    ELSE
        DROP TRIGGER IF EXISTS trg_smtp_ip_default_cost ON smtp_ip_addresses;
    END IF;
END
$$;
DROP FUNCTION IF EXISTS tenantcost_smtp_ip_monthly_cost();
DROP FUNCTION IF EXISTS tenantcost_smtp_ip_default_cost();
DROP INDEX IF EXISTS idx_smtp_ip_addresses_approximate_cost;
ALTER TABLE smtp_ip_addresses DROP CONSTRAINT IF EXISTS chk_smtp_approximate_cost_positive;
