-- Back to 0009's isolation: unsigned app.current_tenant_id, per-row policy calls, the
-- UNION ALL security-barrier rollup views, table-wide writes for application_service and
-- audit rows written by tenantcost's commands only. The signing key stays unless --drop-data.
DROP TRIGGER IF EXISTS trg_vps_cost_audit ON vps_instances;
DROP TRIGGER IF EXISTS trg_smtp_ip_cost_audit ON smtp_ip_addresses;
DROP TRIGGER IF EXISTS trg_cost_settings_audit ON cost_settings;
DROP FUNCTION IF EXISTS tenantcost_audit_cost_change();

REVOKE INSERT, UPDATE ON vps_instances, smtp_ip_addresses FROM application_service;
GRANT SELECT, INSERT, UPDATE, DELETE
      ON companies, subscriptions, payments, billing_analytics, vps_instances, smtp_ip_addresses
      TO application_service;

DO $$
BEGIN
    IF to_regclass('executive_business_rollup') IS NULL
       OR to_regclass('business_cost_allocation_rollup') IS NULL
       OR to_regprocedure('tenantcost_tenant_business_rows()') IS NULL THEN
        RETURN;
    END IF;
    EXECUTE $v$
        CREATE OR REPLACE VIEW tenant_business_rollup
        WITH (security_invoker = false, security_barrier = true) AS
        SELECT r.tenant_id, r.company_name, r.plan_name, r.current_period_start, r.current_period_end,
               r.monthly_subscription_revenue, r.infrastructure_costs, r.email_service_costs,
               r.gross_margin_ratio, r.cost_efficiency_score, r.total_operational_cost,
               r.business_health_status, r.dashboard_date, r.monthly_profit, r.gross_margin_pct,
               r.allocation_rule, r.refreshed_at
          FROM executive_business_rollup r
         WHERE (SELECT tenantcost_reads_all_tenants())
        UNION ALL
        SELECT r.tenant_id, r.company_name, r.plan_name, r.current_period_start, r.current_period_end,
               r.monthly_subscription_revenue, r.infrastructure_costs, r.email_service_costs,
               r.gross_margin_ratio, r.cost_efficiency_score, r.total_operational_cost,
               r.business_health_status, r.dashboard_date, r.monthly_profit, r.gross_margin_pct,
               r.allocation_rule, r.refreshed_at
          FROM executive_business_rollup r
         WHERE NOT (SELECT tenantcost_reads_all_tenants())
           AND r.tenant_id = (SELECT tenantcost_current_tenant())
    $v$;
    EXECUTE $v$
        CREATE OR REPLACE VIEW tenant_cost_allocation_rollup
        WITH (security_invoker = false, security_barrier = true) AS
        SELECT r.* FROM business_cost_allocation_rollup r
         WHERE (SELECT tenantcost_reads_all_tenants())
        UNION ALL
        SELECT r.* FROM business_cost_allocation_rollup r
         WHERE NOT (SELECT tenantcost_reads_all_tenants())
           AND r.tenant_id = (SELECT tenantcost_current_tenant())
    $v$;
END
$$;
DROP FUNCTION IF EXISTS tenantcost_tenant_business_rows();
DROP FUNCTION IF EXISTS tenantcost_tenant_cost_allocation_rows();

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT * FROM (VALUES
            ('companies',         'id = tenantcost_current_tenant()'),
            ('subscriptions',     'tenant_id = tenantcost_current_tenant()'),
            ('vps_instances',     'tenant_id = tenantcost_current_tenant()'),
            ('smtp_ip_addresses', 'tenant_id = tenantcost_current_tenant() OR (tenant_id IS NULL AND vps_instance_id IN (SELECT id FROM vps_instances WHERE tenant_id = tenantcost_current_tenant()))'),
            ('payments',          'subscription_id IN (SELECT id FROM subscriptions WHERE tenant_id = tenantcost_current_tenant())'),
            ('billing_analytics', 'subscription_id IN (SELECT id FROM subscriptions WHERE tenant_id = tenantcost_current_tenant())')
        ) AS p (tbl, predicate)
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t.tbl);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I FOR ALL TO application_service '
                       'USING (%s) WITH CHECK (%s)', t.tbl, t.predicate, t.predicate);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION tenantcost_current_tenant() RETURNS uuid
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    SELECT nullif(current_setting('app.current_tenant_id', true), '')::uuid
$$;
ALTER FUNCTION tenantcost_current_tenant() RESET ALL;
COMMENT ON FUNCTION tenantcost_current_tenant() IS
'app.current_tenant_id as uuid, or NULL when unset: tenant-scoped sessions then see no rows.';
DROP FUNCTION IF EXISTS tenantcost_caller_reads_all_tenants();
DROP FUNCTION IF EXISTS tenantcost_set_tenant_key(bytea);
