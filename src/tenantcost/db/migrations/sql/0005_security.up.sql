-- ============================================================================
-- SECURITY CONFIGURATION (seed 000 step 5): roles, grants, row-level isolation
-- ============================================================================
-- Roles are cluster-wide and NOLOGIN: people and services log in as their own roles
-- and are GRANTed one of these.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['business_analysts', 'application_service', 'db_administrators'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

-- The tenant a session acts for; NULL (nothing visible) when the setting is absent or empty.
CREATE OR REPLACE FUNCTION tenantcost_current_tenant() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('app.current_tenant_id', true), '')::uuid
$$;
COMMENT ON FUNCTION tenantcost_current_tenant() IS
'app.current_tenant_id as uuid, or NULL when unset: tenant-scoped sessions then see no rows.';

-- Grants on the seed's views and rollups, re-runnable: applied to whichever exist now,
-- and called again by each migration that creates a view.
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

GRANT USAGE ON SCHEMA public TO business_analysts, application_service, db_administrators;
GRANT EXECUTE ON FUNCTION tenantcost_current_tenant() TO business_analysts, application_service, db_administrators;

GRANT SELECT ON companies, plans, subscriptions, payments, billing_analytics,
               vps_instances, smtp_ip_addresses, cost_settings, cost_audit, price_books
      TO business_analysts;
GRANT SELECT, INSERT, UPDATE, DELETE
      ON companies, subscriptions, payments, billing_analytics, vps_instances, smtp_ip_addresses
      TO application_service;
GRANT SELECT ON plans, cost_settings TO application_service;
GRANT ALL ON companies, plans, subscriptions, payments, billing_analytics,
             vps_instances, smtp_ip_addresses, cost_settings, cost_audit, price_books
      TO db_administrators;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO db_administrators;

SELECT tenantcost_apply_grants();

-- Row-level tenant isolation on every tenant-owned table. FORCE so that even the table
-- owner is filtered; superusers still bypass RLS (PostgreSQL's rule), so tests use plain roles.
-- On Citus (a table already distributed or a reference table) policies may hold no subquery:
-- payments and billing_analytics, distributed by tenant_id, are isolated by their own
-- tenant_id, and an IP owned through its VPS is found by tenantcost_vps_tenant().
DO $$
DECLARE
    t record;
    citus_tables text[] := '{}';
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT COALESCE(array_agg(logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition$q$ INTO citus_tables;
    END IF;
    IF 'smtp_ip_addresses' = ANY (citus_tables) THEN
        CREATE OR REPLACE FUNCTION tenantcost_vps_tenant(vps uuid) RETURNS uuid
        LANGUAGE sql STABLE AS $f$
            SELECT v.tenant_id FROM vps_instances v WHERE v.id = vps
        $f$;
        COMMENT ON FUNCTION tenantcost_vps_tenant(uuid) IS
        'The tenant owning a VPS (NULL: shared or not visible): the IP policy''s lookup on Citus, where a policy may hold no subquery.';
    END IF;
    FOR t IN
        SELECT p.tbl, CASE WHEN p.tbl = ANY (citus_tables) THEN COALESCE(p.citus, p.predicate)
                            ELSE p.predicate END
                          AS predicate
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
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.tbl);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.tbl);
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t.tbl);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I FOR ALL TO application_service '
                       'USING (%s) WITH CHECK (%s)', t.tbl, t.predicate, t.predicate);
        EXECUTE format('DROP POLICY IF EXISTS internal_read_all ON %I', t.tbl);
        EXECUTE format('CREATE POLICY internal_read_all ON %I FOR SELECT TO business_analysts '
                       'USING (true)', t.tbl);
        EXECUTE format('DROP POLICY IF EXISTS dba_all ON %I', t.tbl);
        EXECUTE format('CREATE POLICY dba_all ON %I FOR ALL TO db_administrators '
                       'USING (true) WITH CHECK (true)', t.tbl);
    END LOOP;
END
$$;
