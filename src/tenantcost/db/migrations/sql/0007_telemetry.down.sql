-- Telemetry (down): removes the view, the partition function and the grants. Usage
-- rollups, snapshots, the mapping, invoices and the cost ledger are data: kept unless
-- --drop-data. The pg_stat_statements extension stays (other tools may read it).
DROP VIEW IF EXISTS tenant_resource_usage;
DROP FUNCTION IF EXISTS tenantcost_ensure_usage_partition(timestamptz);
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenant_mapping', 'telemetry_metrics', 'tenant_usage_hourly',
                             'telemetry_pgss_snapshot', 'telemetry_state', 'telemetry_runs',
                             'telemetry_app_events', 'host_usage_hourly', 'host_invoices',
                             'tenant_cost_ledger', 'tenant_cost_totals'] LOOP
        IF to_regclass(t) IS NOT NULL THEN
            EXECUTE format('REVOKE ALL ON %I FROM business_analysts, db_administrators', t);
        END IF;
    END LOOP;
END
$$;
