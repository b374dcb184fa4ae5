-- Removes policies, RLS and grants. The NOLOGIN roles stay: they are cluster-wide and
-- other databases or members may rely on them (drop them by hand if unused).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['companies', 'subscriptions', 'vps_instances', 'smtp_ip_addresses',
                             'payments', 'billing_analytics'] LOOP
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS internal_read_all ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS dba_all ON %I', t);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;
REVOKE ALL ON companies, plans, subscriptions, payments, billing_analytics,
              vps_instances, smtp_ip_addresses, cost_settings, cost_audit, price_books
       FROM business_analysts, application_service, db_administrators;
DROP FUNCTION IF EXISTS tenantcost_apply_grants();
DROP FUNCTION IF EXISTS tenantcost_current_tenant();
DROP FUNCTION IF EXISTS tenantcost_vps_tenant(uuid);  -- Citus only (the IP policy's lookup)
