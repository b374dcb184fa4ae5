-- Back to 0009's isolation: unsigned app.current_tenant_id, per-row policy calls, the
-- figures table read directly by the seed's views, table-wide writes for application_service and
-- audit rows written by tenantcost's commands only. The signing key stays unless --drop-data.
DO $$
DECLARE
    citus_tables text[] := '{}';  -- Citus tables carry no trigger (0015's up script)
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT COALESCE(array_agg(logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition$q$ INTO citus_tables;
    END IF;
    IF NOT 'vps_instances' = ANY (citus_tables) THEN
        DROP TRIGGER IF EXISTS trg_vps_cost_audit ON vps_instances;
    END IF;
    IF NOT 'smtp_ip_addresses' = ANY (citus_tables) THEN
        DROP TRIGGER IF EXISTS trg_smtp_ip_cost_audit ON smtp_ip_addresses;
    END IF;
END
$$;
DROP TRIGGER IF EXISTS trg_cost_settings_audit ON cost_settings;
DROP FUNCTION IF EXISTS tenantcost_audit_cost_change();

REVOKE INSERT, UPDATE ON vps_instances, smtp_ip_addresses FROM application_service;
GRANT SELECT, INSERT, UPDATE, DELETE
      ON companies, subscriptions, payments, billing_analytics, vps_instances, smtp_ip_addresses
      TO application_service;

-- The seed's views read the figures table again (0010), which application_service may read.
CREATE OR REPLACE VIEW executive_business_summary WITH (security_invoker = true) AS
SELECT f.tenant_id, f.company_name, f.plan_name, f.current_period_start, f.current_period_end,
       f.revenue AS monthly_subscription_revenue, f.infrastructure_costs, f.email_service_costs,
       f.gross_margin_ratio, f.cost_efficiency_score, f.total_operational_cost,
       f.business_health_status, f.dashboard_date, f.monthly_profit, f.gross_margin_pct,
       f.usage_cost, f.addon_cost, f.platform_overhead_cost, f.period
  FROM tenant_period_figures f
 WHERE f.period = tenantcost_latest_period();
CREATE OR REPLACE VIEW business_cost_allocation WITH (security_invoker = true) AS
SELECT f.tenant_id, f.company_name, f.plan_name, f.revenue AS price_monthly,
       f.infrastructure_costs AS total_infrastructure_cost,
       f.email_service_costs AS total_email_service_cost,
       f.cost_per_email_delivered,
       f.total_operational_cost AS total_monthly_cost,
       f.monthly_profit,
       f.business_efficiency_ratio,
       f.emails_sent,
       f.payments_received,
       f.collected_profit,
       f.usage_cost, f.period
  FROM tenant_period_figures f
 WHERE f.period = tenantcost_latest_period();
DROP FUNCTION IF EXISTS tenantcost_tenant_figures(text);
DROP POLICY IF EXISTS tenant_isolation ON tenant_period_figures;
CREATE POLICY tenant_isolation ON tenant_period_figures FOR SELECT TO application_service
    USING (tenant_id = tenantcost_current_tenant());
GRANT SELECT ON tenant_period_figures TO application_service;

DO $$
DECLARE
    t record;
    citus_tables text[] := '{}';  -- on Citus tables: 0005's predicates without subqueries
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT COALESCE(array_agg(logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition$q$ INTO citus_tables;
    END IF;
    FOR t IN
        SELECT p.tbl, CASE WHEN p.tbl = ANY (citus_tables) THEN COALESCE(p.citus, p.predicate)
                            ELSE p.predicate END AS predicate
          FROM (VALUES
            ('companies',         'id = tenantcost_current_tenant()', NULL),
            ('subscriptions',     'tenant_id = tenantcost_current_tenant()', NULL),
            ('vps_instances',     'tenant_id = tenantcost_current_tenant()', NULL),
            ('smtp_ip_addresses', 'tenant_id = tenantcost_current_tenant() OR (tenant_id IS NULL AND vps_instance_id IN (SELECT id FROM vps_instances WHERE tenant_id = tenantcost_current_tenant()))',
                                  'tenant_id = tenantcost_current_tenant() OR (tenant_id IS NULL AND tenantcost_vps_tenant(vps_instance_id) = tenantcost_current_tenant())'),
            ('payments',          'subscription_id IN (SELECT id FROM subscriptions WHERE tenant_id = tenantcost_current_tenant())',
                                  'tenant_id = tenantcost_current_tenant()'),
            ('billing_analytics', 'subscription_id IN (SELECT id FROM subscriptions WHERE tenant_id = tenantcost_current_tenant())',
                                  'tenant_id = tenantcost_current_tenant()')
        ) AS p (tbl, predicate, citus)
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
