-- One cost model (down): removes the figures, the ledger and its periods, daily and hourly
-- priced usage, the pricing function and the staleness triggers; the version module then
-- re-runs 0006, 0007 and 0009 so the materialized rollups, the two-mode ledger (empty: re-run
-- `tenantcost attribute`) and the tier views of revision 0009 are back. The settings rows
-- overhead_allocation and control_plane_monthly_cost are data: kept unless --drop-data.
DROP VIEW IF EXISTS tenant_cost_allocation_rollup;
DROP VIEW IF EXISTS tenant_business_rollup;
DROP VIEW IF EXISTS shared_infrastructure_cost;
DROP VIEW IF EXISTS business_cost_allocation;
DROP VIEW IF EXISTS executive_business_summary;
DROP VIEW IF EXISTS tenant_hourly_cost;
DROP VIEW IF EXISTS tenant_monthly_revenue;
DROP VIEW IF EXISTS tenant_subscription_revenue;
DROP TABLE IF EXISTS tenant_period_figures;
DROP TABLE IF EXISTS tenant_cost_ledger;
DROP TABLE IF EXISTS tenant_cost_periods;
DROP TABLE IF EXISTS tenant_cost_daily;
DROP TABLE IF EXISTS tenant_cost_hourly;
DROP TABLE IF EXISTS tenantcost_refresh_state;
DO $$
DECLARE
    t text;
    citus_tables text[] := '{}';  -- Citus tables carry no trigger (0010's up script)
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT COALESCE(array_agg(logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition$q$ INTO citus_tables;
    END IF;
    FOREACH t IN ARRAY ARRAY['companies', 'plans', 'subscriptions', 'payments',
                             'billing_analytics', 'vps_instances', 'smtp_ip_addresses',
                             'cost_settings', 'addons', 'subscription_addons',
                             'subscription_terms', 'plan_tiers', 'price_books', 'host_invoices'] LOOP
        IF to_regclass(t) IS NOT NULL AND NOT t = ANY (citus_tables) THEN
            EXECUTE format('DROP TRIGGER IF EXISTS tenantcost_cost_input_change ON %I', t);
        END IF;
    END LOOP;
END
$$;
DROP FUNCTION IF EXISTS tenantcost_note_cost_input_change();
DROP SEQUENCE IF EXISTS tenantcost_cost_input_changes;
DROP FUNCTION IF EXISTS tenantcost_priced_usage(timestamptz, timestamptz, text, text, numeric, text[]);
DROP FUNCTION IF EXISTS tenantcost_latest_period();
DROP FUNCTION IF EXISTS tenantcost_cost_lines(text, timestamptz);
ALTER TABLE cost_settings DROP CONSTRAINT IF EXISTS chk_cost_settings_overhead_allocation;
DELETE FROM cost_audit WHERE entity = 'period';
ALTER TABLE cost_audit DROP CONSTRAINT IF EXISTS cost_audit_entity_check;
ALTER TABLE cost_audit ADD CONSTRAINT cost_audit_entity_check
    CHECK (entity IN ('setting', 'vps', 'ip'));
DELETE FROM tenant_usage_hourly WHERE source = 'demo';
DELETE FROM telemetry_metrics WHERE source = 'demo';
