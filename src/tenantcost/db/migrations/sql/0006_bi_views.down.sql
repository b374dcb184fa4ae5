-- Removes the BI views, rollups and their functions, and restores 0005's grant function.
-- The shared_cost_allocation setting row is data: kept unless --drop-data.
DROP VIEW IF EXISTS tenant_cost_allocation_rollup;
DROP VIEW IF EXISTS tenant_business_rollup;
DROP MATERIALIZED VIEW IF EXISTS shared_cost_rollup;
DROP MATERIALIZED VIEW IF EXISTS business_cost_allocation_rollup;
DROP MATERIALIZED VIEW IF EXISTS executive_business_rollup;
DROP VIEW IF EXISTS shared_infrastructure_cost;
DROP VIEW IF EXISTS business_cost_allocation;
DROP VIEW IF EXISTS executive_business_summary;
DROP FUNCTION IF EXISTS tenantcost_refresh_rollups();
DROP FUNCTION IF EXISTS tenantcost_reads_all_tenants();
DROP FUNCTION IF EXISTS tenantcost_business_metrics(text);
DROP FUNCTION IF EXISTS tenantcost_cost_lines(text);
DROP FUNCTION IF EXISTS tenantcost_shared_cost_allocation();
DROP INDEX IF EXISTS idx_tc_billing_analytics_period;
ALTER TABLE cost_settings DROP CONSTRAINT IF EXISTS chk_cost_settings_shared_cost_allocation;

CREATE OR REPLACE FUNCTION tenantcost_apply_grants() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['business_cost_allocation', 'executive_business_summary',
                             'executive_business_rollup', 'tenant_business_rollup'] LOOP
        IF to_regclass(v) IS NOT NULL THEN
            EXECUTE format('GRANT SELECT ON %I TO business_analysts, application_service', v);
            EXECUTE format('GRANT ALL ON %I TO db_administrators', v);
        END IF;
    END LOOP;
END
$$;
