-- ============================================================================
-- Tenant isolation that holds against a hostile tenant session (issue 13, items 1 and 7).
-- ============================================================================
-- 1. A tenant session cannot choose its tenant: app.current_tenant_id must carry an
--    HMAC-SHA256 signature made with a key only this database's owner (and
--    db_administrators) can read; tenantcost_current_tenant() is NULL for anything else.
-- 2. RLS policies evaluate the tenant once per statement (an InitPlan), not per row.
-- 3. The seed's views (and tenant_business_rollup / tenant_cost_allocation_rollup, which
--    select from them) read the figures through a SECURITY DEFINER function that returns
--    only the caller's rows. A function boundary is never flattened, so no caller predicate
--    is evaluated on another tenant's row, and no plan shows other tenants' row counts.
-- 4. application_service cannot write finance columns (costs, overrides, Hostwinds pricing
--    fields) nor payments; every change of a cost column, by any role or path, is written to
--    cost_audit by a trigger (source/reason from tenantcost.audit_source/_reason when the
--    caller set them with SET LOCAL, 'sql' and a note otherwise).
-- Idempotent: every object is created or replaced.

-- ---------------------------------------------------------------------------
-- 1. The tenant signing key and the verifier.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tenantcost_tenant_key (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    key        bytea NOT NULL CHECK (octet_length(key) BETWEEN 32 AND 64),
    key_ipad   bytea NOT NULL,
    key_opad   bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT session_user
);
COMMENT ON TABLE tenantcost_tenant_key IS
'The one HMAC-SHA256 key that signs app.current_tenant_id (key_ipad/key_opad: the key zero-padded to 64 bytes XOR 0x36/0x5c, precomputed). Readable by its owner and db_administrators only; rotate with `tenantcost db tenant-key --rotate`.';
REVOKE ALL ON tenantcost_tenant_key FROM PUBLIC;
DO $$
BEGIN
    EXECUTE 'REVOKE ALL ON tenantcost_tenant_key FROM application_service, business_analysts';
    EXECUTE 'GRANT SELECT ON tenantcost_tenant_key TO db_administrators';
END
$$;

CREATE OR REPLACE FUNCTION tenantcost_set_tenant_key(new_key bytea) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    padded bytea;
    ipad   bytea;
    opad   bytea;
BEGIN
    IF new_key IS NULL OR octet_length(new_key) NOT BETWEEN 32 AND 64 THEN
        RAISE EXCEPTION 'the tenant signing key must be 32 to 64 bytes';
    END IF;
    padded := new_key || decode(repeat('00', 64 - octet_length(new_key)), 'hex');
    ipad := padded;
    opad := padded;
    FOR i IN 0..63 LOOP
        ipad := set_byte(ipad, i, get_byte(padded, i) # 54);   -- 0x36
        opad := set_byte(opad, i, get_byte(padded, i) # 92);   -- 0x5c
    END LOOP;
    INSERT INTO tenantcost_tenant_key (id, key, key_ipad, key_opad, created_at, created_by)
    VALUES (true, new_key, ipad, opad, now(), session_user)
    ON CONFLICT (id) DO UPDATE
       SET key = EXCLUDED.key, key_ipad = EXCLUDED.key_ipad, key_opad = EXCLUDED.key_opad,
           created_at = EXCLUDED.created_at, created_by = EXCLUDED.created_by;
END
$$;
COMMENT ON FUNCTION tenantcost_set_tenant_key(bytea) IS
'Install a new tenant signing key (32-64 bytes); every token signed with the old key stops working at once.';
REVOKE ALL ON FUNCTION tenantcost_set_tenant_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantcost_set_tenant_key(bytea) TO db_administrators;

-- A first key, 244 random bits (gen_random_uuid uses the server's strong random source).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM tenantcost_tenant_key) THEN
        PERFORM tenantcost_set_tenant_key(sha256(convert_to(
            gen_random_uuid()::text || gen_random_uuid()::text || clock_timestamp()::text,
            'UTF8')));
    END IF;
END
$$;

-- app.current_tenant_id = 'v1.<tenant uuid>.<expires, unix seconds>.<backend pid>.<hex HMAC>'
-- where the HMAC is HMAC-SHA256(key, 'v1.<tenant uuid>.<expires>.<backend pid>'). Anything
-- else (a bare uuid, a bad signature, an expired token, a token made for another backend)
-- is NULL: tenant-scoped sessions then see no rows. Expiry is judged at transaction start.
CREATE OR REPLACE FUNCTION tenantcost_current_tenant() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
DECLARE
    token text := current_setting('app.current_tenant_id', true);
    parts text[];
    k record;
BEGIN
    IF token IS NULL OR token = '' THEN
        RETURN NULL;
    END IF;
    parts := string_to_array(token, '.');
    IF cardinality(parts) <> 5 OR parts[1] <> 'v1'
       OR parts[2] !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
       OR parts[3] !~ '^[0-9]{1,12}$' OR parts[4] !~ '^[0-9]{1,10}$'
       OR parts[5] !~ '^[0-9a-f]{64}$' THEN
        RETURN NULL;
    END IF;
    IF parts[4]::bigint <> pg_backend_pid() OR to_timestamp(parts[3]::bigint) <= now() THEN
        RETURN NULL;
    END IF;
    SELECT key_ipad, key_opad INTO k FROM tenantcost_tenant_key WHERE id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF sha256(k.key_opad || sha256(k.key_ipad || convert_to(
           parts[1] || '.' || parts[2] || '.' || parts[3] || '.' || parts[4], 'UTF8')))
       = decode(parts[5], 'hex') THEN
        RETURN parts[2]::uuid;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION tenantcost_current_tenant() IS
'The tenant of a verified app.current_tenant_id token (v1.<uuid>.<expires>.<backend pid>.<HMAC-SHA256>), or NULL: unsigned, forged, expired or borrowed values see no rows.';

-- True when the role the caller acts as (SET ROLE, else the login role) reads every tenant.
-- Called inside SECURITY DEFINER functions, where current_user is the owner: the role GUC
-- and session_user still name the caller, and neither can be changed to a role the caller
-- is not a member of.
CREATE OR REPLACE FUNCTION tenantcost_caller_reads_all_tenants() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT pg_has_role(r.name, 'business_analysts', 'MEMBER')
        OR pg_has_role(r.name, 'db_administrators', 'MEMBER')
      FROM (SELECT COALESCE(NULLIF(current_setting('role'), 'none'), session_user::text)
                   AS name) r
$$;
COMMENT ON FUNCTION tenantcost_caller_reads_all_tenants() IS
'True when the calling role (SET ROLE, else the session user) is a member of business_analysts or db_administrators (or a superuser); meaningful inside SECURITY DEFINER functions.';

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION tenantcost_current_tenant() SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION tenantcost_set_tenant_key(bytea) SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION tenantcost_caller_reads_all_tenants() '
                   'SET search_path = pg_catalog, pg_temp');
END
$$;

-- ---------------------------------------------------------------------------
-- 2. RLS: the tenant once per statement (InitPlan), same predicates as 0005.
-- ---------------------------------------------------------------------------
-- On Citus tables (already distributed, or reference tables) a policy may hold no subquery,
-- InitPlan included: there the predicates are 0005's Citus ones, the tenant computed per row
-- (tenantcost_current_tenant() is STABLE; the tenant filter routes a query to one shard).
-- On a Citus coordinator whose tables are still local, the tables that test their own
-- column take that form too, so `db distribute` can place them later.
DO $$
DECLARE
    t record;
    citus_tables text[] := '{}';
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT COALESCE(array_agg(logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition$q$ INTO citus_tables;
        citus_tables := citus_tables || ARRAY['companies', 'subscriptions', 'vps_instances'];
    END IF;
    FOR t IN
        SELECT p.tbl, CASE WHEN p.tbl = ANY (citus_tables) THEN COALESCE(p.citus, p.predicate)
                            ELSE p.predicate END AS predicate
          FROM (VALUES
            ('companies',         'id = (SELECT tenantcost_current_tenant())',
                                  'id = tenantcost_current_tenant()'),
            ('subscriptions',     'tenant_id = (SELECT tenantcost_current_tenant())',
                                  'tenant_id = tenantcost_current_tenant()'),
            ('vps_instances',     'tenant_id = (SELECT tenantcost_current_tenant())',
                                  'tenant_id = tenantcost_current_tenant()'),
            ('smtp_ip_addresses', 'tenant_id = (SELECT tenantcost_current_tenant()) OR (tenant_id IS NULL AND vps_instance_id IN (SELECT id FROM vps_instances WHERE tenant_id = (SELECT tenantcost_current_tenant())))',
                                  'tenant_id = tenantcost_current_tenant() OR (tenant_id IS NULL AND tenantcost_vps_tenant(vps_instance_id) = tenantcost_current_tenant())'),
            ('payments',          'subscription_id IN (SELECT id FROM subscriptions WHERE tenant_id = (SELECT tenantcost_current_tenant()))',
                                  'tenant_id = tenantcost_current_tenant()'),
            ('billing_analytics', 'subscription_id IN (SELECT id FROM subscriptions WHERE tenant_id = (SELECT tenantcost_current_tenant()))',
                                  'tenant_id = tenantcost_current_tenant()')
        ) AS p (tbl, predicate, citus)
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t.tbl);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I FOR ALL TO application_service '
                       'USING (%s) WITH CHECK (%s)', t.tbl, t.predicate, t.predicate);
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------
-- 3. The tenant-facing views of the figures (0010): a function boundary, not a bare table.
-- ---------------------------------------------------------------------------
-- RLS on tenant_period_figures already keeps other tenants' values away, but a plan that
-- filters the table shows how many rows it removed (EXPLAIN ANALYZE "Rows Removed by
-- Filter"). The seed's views therefore read the figures through a SECURITY DEFINER function
-- that returns only the verified tenant's rows of one month (every row for internal roles),
-- and application_service loses SELECT on the table itself. A function boundary is never
-- flattened, so no caller predicate ever runs on another tenant's row.
CREATE OR REPLACE FUNCTION tenantcost_tenant_figures(p_period text)
RETURNS SETOF tenant_period_figures
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 100 AS $b$
BEGIN
    IF tenantcost_caller_reads_all_tenants() THEN
        RETURN QUERY SELECT * FROM tenant_period_figures f WHERE f.period = p_period;
    ELSE
        RETURN QUERY SELECT * FROM tenant_period_figures f
                      WHERE f.period = p_period AND f.tenant_id = tenantcost_current_tenant();
    END IF;
END
$b$;
COMMENT ON FUNCTION tenantcost_tenant_figures(text) IS
'tenant_period_figures rows of one month: the verified tenant''s only (app.current_tenant_id, signed), every row for members of business_analysts / db_administrators.';
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION tenantcost_tenant_figures(text) SET search_path = %I, pg_temp',
                   current_schema());
END
$$;
REVOKE ALL ON FUNCTION tenantcost_tenant_figures(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantcost_tenant_figures(text)
      TO application_service, business_analysts, db_administrators;

CREATE OR REPLACE VIEW executive_business_summary WITH (security_invoker = true) AS
SELECT f.tenant_id, f.company_name, f.plan_name, f.current_period_start, f.current_period_end,
       f.revenue AS monthly_subscription_revenue, f.infrastructure_costs, f.email_service_costs,
       f.gross_margin_ratio, f.cost_efficiency_score, f.total_operational_cost,
       f.business_health_status, f.dashboard_date, f.monthly_profit, f.gross_margin_pct,
       f.usage_cost, f.addon_cost, f.platform_overhead_cost, f.period
  FROM tenantcost_tenant_figures(tenantcost_latest_period()) f;

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
  FROM tenantcost_tenant_figures(tenantcost_latest_period()) f;

-- The figures policy checks the signed tenant once per statement, like the base tables'
-- (on a Citus coordinator per row, without the subquery Citus refuses in a policy).
DROP POLICY IF EXISTS tenant_isolation ON tenant_period_figures;
DO $$
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        CREATE POLICY tenant_isolation ON tenant_period_figures FOR SELECT TO application_service
            USING (tenant_id = (SELECT tenantcost_current_tenant()));
    ELSE
        CREATE POLICY tenant_isolation ON tenant_period_figures FOR SELECT TO application_service
            USING (tenant_id = tenantcost_current_tenant());
    END IF;
END
$$;
REVOKE ALL ON tenant_period_figures FROM application_service;

-- ---------------------------------------------------------------------------
-- 4. Finance columns and payments are not the tenant's to write.
-- ---------------------------------------------------------------------------
-- application_service may INSERT/UPDATE every column of vps_instances and smtp_ip_addresses
-- except these (extra columns of an adopted schema stay writable); payments: read only.
DO $$
DECLARE
    t record;
    cols text;
BEGIN
    FOR t IN
        SELECT * FROM (VALUES
            ('vps_instances', ARRAY['approximate_cost', 'cost_override', 'cost_source',
                                    'cost_updated_at', 'hostwinds_service_id',
                                    'hostwinds_plan_id', 'billing_cycle', 'hostwinds_config']),
            ('smtp_ip_addresses', ARRAY['approximate_cost', 'cost_override', 'cost_source',
                                        'cost_updated_at'])
        ) AS f (tbl, finance)
    LOOP
        EXECUTE format('REVOKE INSERT, UPDATE ON %I FROM application_service', t.tbl);
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
          FROM pg_attribute a
         WHERE a.attrelid = t.tbl::regclass AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attname <> ALL (t.finance);
        -- Column privileges granted before are revoked with the table privilege only when
        -- they were table-wide; revoke the finance columns explicitly too (re-runs).
        EXECUTE format('REVOKE INSERT (%s), UPDATE (%s) ON %I FROM application_service',
                       array_to_string(t.finance, ', '), array_to_string(t.finance, ', '),
                       t.tbl);
        EXECUTE format('GRANT INSERT (%s), UPDATE (%s) ON %I TO application_service',
                       cols, cols, t.tbl);
    END LOOP;
    EXECUTE 'REVOKE INSERT, UPDATE, DELETE ON payments FROM application_service';
END
$$;

-- ---------------------------------------------------------------------------
-- 5. Every change of a cost column leaves an audit row.
-- ---------------------------------------------------------------------------
-- VPS/IP: approximate_cost or cost_override changed (old/new: approximate_cost).
-- Settings: cost_settings.value changed. source/reason: tenantcost.audit_source /
-- tenantcost.audit_reason (SET LOCAL by tenantcost's own paths), else 'sql' and a note.
-- SECURITY DEFINER so that a change made through a trigger path (an IP re-priced because
-- its status changed) is audited even for roles that cannot write cost_audit themselves.
CREATE OR REPLACE FUNCTION tenantcost_audit_cost_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    actor  text := CASE WHEN current_setting('role') <> 'none'
                        THEN session_user || ' as ' || current_setting('role')
                        ELSE session_user::text END;
    source text := COALESCE(NULLIF(current_setting('tenantcost.audit_source', true), ''), 'sql');
    reason text := COALESCE(NULLIF(current_setting('tenantcost.audit_reason', true), ''),
                            'changed outside tenantcost''s audited commands');
BEGIN
    IF TG_TABLE_NAME = 'cost_settings' THEN
        IF NEW.value IS DISTINCT FROM OLD.value THEN
            INSERT INTO cost_audit (changed_by, entity, entity_id, old_value, new_value,
                                    source, reason)
            VALUES (actor, 'setting', NEW.key, OLD.value, NEW.value, source, reason);
        END IF;
    ELSIF NEW.approximate_cost IS DISTINCT FROM OLD.approximate_cost
          OR NEW.cost_override IS DISTINCT FROM OLD.cost_override THEN
        INSERT INTO cost_audit (changed_by, entity, entity_id, old_value, new_value,
                                source, reason)
        VALUES (actor, CASE TG_TABLE_NAME WHEN 'vps_instances' THEN 'vps' ELSE 'ip' END,
                NEW.id::text, OLD.approximate_cost::text, NEW.approximate_cost::text,
                source, reason);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION tenantcost_audit_cost_change() IS
'AFTER UPDATE trigger: one cost_audit row per changed cost (VPS/IP approximate_cost or cost_override, cost_settings.value), with source/reason from tenantcost.audit_source/tenantcost.audit_reason.';
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION tenantcost_audit_cost_change() SET search_path = %I, pg_temp',
                   current_schema());
END
$$;
REVOKE ALL ON FUNCTION tenantcost_audit_cost_change() FROM PUBLIC;

-- On Citus, where the application made vps_instances / smtp_ip_addresses reference tables,
-- no trigger can exist on them: their cost changes are not audited there (`db verify` says
-- so: "Citus: cost changes audited").
DO $$
DECLARE
    t record;
    citus_tables text[] := '{}';
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT COALESCE(array_agg(logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition$q$ INTO citus_tables;
    END IF;
    FOR t IN SELECT * FROM (VALUES ('vps_instances', 'trg_vps_cost_audit'),
                                   ('smtp_ip_addresses', 'trg_smtp_ip_cost_audit')) AS x (tbl, trg)
    LOOP
        CONTINUE WHEN t.tbl = ANY (citus_tables);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t.trg, t.tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I FOR EACH ROW '
                       'WHEN (NEW.approximate_cost IS DISTINCT FROM OLD.approximate_cost '
                       'OR NEW.cost_override IS DISTINCT FROM OLD.cost_override) '
                       'EXECUTE FUNCTION tenantcost_audit_cost_change()', t.trg, t.tbl);
    END LOOP;
END
$$;
DROP TRIGGER IF EXISTS trg_cost_settings_audit ON cost_settings;
CREATE TRIGGER trg_cost_settings_audit
    AFTER UPDATE ON cost_settings
    FOR EACH ROW
    WHEN (NEW.value IS DISTINCT FROM OLD.value)
    EXECUTE FUNCTION tenantcost_audit_cost_change();
