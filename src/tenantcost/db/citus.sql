-- Catalog facts `tenantcost db distribute` plans from (tenantcost.db.citus). Read-only.

-- name: citus_version
SELECT extversion FROM pg_extension WHERE extname = 'citus';

-- name: table_columns
-- Every column of the current schema's ordinary and partitioned tables, with nullability.
SELECT c.relname AS table_name, a.attname AS column_name, NOT a.attnotnull AS nullable
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
 ORDER BY c.relname, a.attnum;

-- name: unique_keys
-- Primary keys and unique constraints (and unique indexes), by column name.
SELECT t.relname AS table_name, i.relname AS key_name,
       array_agg(a.attname ORDER BY k.ord)::text[] AS columns
  FROM pg_index x
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
  JOIN pg_class i ON i.oid = x.indexrelid
  CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k (attnum, ord)
  LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
 WHERE x.indisunique AND NOT t.relispartition AND t.relkind IN ('r', 'p')
 GROUP BY t.relname, i.relname
 ORDER BY 1, 2;

-- name: foreign_keys
SELECT src.relname AS table_name, con.conname AS key_name,
       dst.relname AS referenced_table,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k (n, o)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
              ORDER BY k.o)::text[] AS columns,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k (n, o)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
              ORDER BY k.o)::text[] AS referenced_columns,
       pg_get_constraintdef(con.oid) AS definition
  FROM pg_constraint con
  JOIN pg_class src ON src.oid = con.conrelid
  JOIN pg_class dst ON dst.oid = con.confrelid
  JOIN pg_namespace n ON n.oid = src.relnamespace AND n.nspname = current_schema()
 WHERE con.contype = 'f' AND NOT src.relispartition AND con.conparentid = 0
 ORDER BY 1, 2;

-- name: policies_with_subqueries
-- Citus refuses a policy holding a subquery on a distributed table.
SELECT tablename AS table_name, policyname AS policy_name
  FROM pg_policies
 WHERE schemaname = current_schema()
   AND (qual ILIKE '%select%' OR with_check ILIKE '%select%')
 ORDER BY 1, 2;

-- name: user_triggers
SELECT c.relname AS table_name, t.tgname AS trigger_name,
       t.tgoldtable IS NOT NULL OR t.tgnewtable IS NOT NULL AS transition_tables
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
 WHERE NOT t.tgisinternal AND NOT c.relispartition
 ORDER BY 1, 2;

-- name: sql_body_functions
-- SQL-standard (BEGIN ATOMIC) functions and the tables their bodies depend on: Citus reports
-- "circular dependencies between distributed objects" when it distributes such a table.
SELECT DISTINCT p.proname AS function_name, c.relname AS table_name
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = current_schema()
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class c ON c.oid = d.refobjid
 WHERE p.prosqlbody IS NOT NULL
 ORDER BY 1, 2;

-- name: distributed_tables
-- What Citus already manages (only run when the extension is installed).
SELECT logicalrelid::regclass::text AS table_name,
       CASE WHEN partmethod = 'n' AND repmodel = 't' THEN 'reference'
            WHEN partmethod = 'n' THEN 'local'
            ELSE 'distributed' END AS placement,
       CASE WHEN partmethod = 'h' THEN column_to_column_name(logicalrelid, partkey) END
           AS column_name,
       colocationid AS colocation_id
  FROM pg_dist_partition
 ORDER BY 1;

-- name: orphaned_rows
-- Rows of tenantcost's coordinator tables whose parent is gone: on an application already
-- distributed, a foreign key from a local table cannot cascade from the workers' shards
-- (and subscriptions(id) is no unique key), so a deleted company or subscription leaves them.
-- (Non-correlated subqueries: Citus plans each distributed one first, then the local join.)
SELECT 'tenant_mapping' AS table_name, count(*) AS orphans
  FROM tenant_mapping m WHERE m.tenant_id NOT IN (SELECT c.id FROM companies c)
UNION ALL
SELECT 'subscription_addons', count(*)
  FROM subscription_addons a WHERE a.subscription_id NOT IN (SELECT s.id FROM subscriptions s)
UNION ALL
SELECT 'subscription_terms', count(*)
  FROM subscription_terms t WHERE t.subscription_id NOT IN (SELECT s.id FROM subscriptions s);

-- name: unaudited_cost_tables
-- Citus tables holding costs that no audit trigger watches (none can exist on a reference table).
SELECT p.logicalrelid::regclass::text AS table_name
  FROM pg_dist_partition p
 WHERE p.logicalrelid IN (to_regclass('vps_instances'), to_regclass('smtp_ip_addresses'),
                          to_regclass('cost_settings'))
   AND NOT EXISTS (SELECT 1 FROM pg_trigger t
                    WHERE t.tgrelid = p.logicalrelid
                      AND t.tgname IN ('trg_vps_cost_audit', 'trg_smtp_ip_cost_audit',
                                       'trg_cost_settings_audit'))
 ORDER BY 1;

-- name: subscription_keys_missing
-- Whether subscription_addons / subscription_terms lack their key to subscriptions(id)
-- (revision 0009 adds none where subscriptions is keyed by (tenant_id, id)).
SELECT t.table_name,
       to_regclass(t.table_name) IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                        WHERE c.conrelid = to_regclass(t.table_name)
                          AND c.conname = t.table_name || '_subscription_id_fkey') AS missing
  FROM (VALUES ('subscription_addons'), ('subscription_terms')) AS t (table_name);

-- name: ip_cost_function
-- The IP pricing trigger's Citus form (no trigger on a reference table), as revision 0004
-- installs it where the application distributed smtp_ip_addresses first: new IPs take the
-- smtp_ip_monthly_cost constant as their column default; `costs set` re-prices every billable
-- IP; `db verify` fails on a billable IP without an override whose cost is not the constant.
CREATE OR REPLACE FUNCTION tenantcost_smtp_ip_monthly_cost() RETURNS numeric
LANGUAGE sql STABLE AS $f$
    SELECT COALESCE((SELECT value::numeric FROM cost_settings
                      WHERE key = 'smtp_ip_monthly_cost'), 0.00)
$f$;

-- name: ip_cost_comment
COMMENT ON FUNCTION tenantcost_smtp_ip_monthly_cost() IS
'The smtp_ip_monthly_cost constant: the default of smtp_ip_addresses.approximate_cost on Citus, where the pricing trigger cannot exist on a reference table.';

-- name: ip_cost_defaults
ALTER TABLE smtp_ip_addresses
    ALTER COLUMN approximate_cost SET DEFAULT tenantcost_smtp_ip_monthly_cost(),
    ALTER COLUMN cost_source SET DEFAULT 'setting';

-- name: ip_cost_trigger_function_drop
DROP FUNCTION IF EXISTS tenantcost_smtp_ip_default_cost();

-- name: vps_tenant_function
-- The IP policy's lookup where a policy may hold no subquery (revision 0005 on Citus).
CREATE OR REPLACE FUNCTION tenantcost_vps_tenant(vps uuid) RETURNS uuid
LANGUAGE sql STABLE AS $f$
    SELECT v.tenant_id FROM vps_instances v WHERE v.id = vps
$f$;

-- name: vps_tenant_comment
COMMENT ON FUNCTION tenantcost_vps_tenant(uuid) IS
'The tenant owning a VPS (NULL: shared or not visible): the IP policy''s lookup on Citus, where a policy may hold no subquery.';

-- name: tenant_payments_colocated
-- Revision 0026's view as it is made where payments is co-located with subscriptions by
-- tenant_id: joined on the tenant too, so Citus joins shard by shard. `db distribute` makes it
-- so when it places payments (tenantcost installed while the tables were local).
CREATE OR REPLACE VIEW tenantcost_tenant_payments WITH (security_invoker = true) AS
SELECT s.tenant_id, py.subscription_id, py.amount, py.billing_period_start
  FROM payments py JOIN subscriptions s ON s.id = py.subscription_id AND s.tenant_id = py.tenant_id;

-- name: tenant_emails_colocated
-- The same for billing_analytics.
CREATE OR REPLACE VIEW tenantcost_tenant_emails WITH (security_invoker = true) AS
SELECT s.tenant_id, ba.subscription_id, ba.emails_sent, ba.period_start
  FROM billing_analytics ba JOIN subscriptions s ON s.id = ba.subscription_id AND s.tenant_id = ba.tenant_id;

-- name: rowtype_views
-- Views over a function that returns a table's rows (tenantcost_tenant_figures returns
-- tenant_period_figures), and the views over those: Citus reports "circular dependencies
-- between distributed objects" when it distributes such a table, so `db distribute` drops
-- them first and creates them again after, with their options, comment and grants.
WITH RECURSIVE views AS (
    SELECT DISTINCT r.ev_class AS view_oid, t.typrelid AS table_oid, 1 AS depth
      FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = current_schema()
      JOIN pg_type t ON t.oid = p.prorettype AND t.typrelid <> 0
      JOIN pg_depend d ON d.refclassid = 'pg_proc'::regclass AND d.refobjid = p.oid
                      AND d.classid = 'pg_rewrite'::regclass
      JOIN pg_rewrite r ON r.oid = d.objid
     WHERE t.typrelid <> r.ev_class
    UNION
    SELECT r.ev_class, v.table_oid, v.depth + 1
      FROM views v
      JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = v.view_oid
                      AND d.classid = 'pg_rewrite'::regclass
      JOIN pg_rewrite r ON r.oid = d.objid AND r.ev_class <> v.view_oid
     WHERE v.depth < 10
)
SELECT c.relname AS view_name, tbl.relname AS table_name, max(v.depth) AS depth,
       pg_get_viewdef(c.oid) AS definition,
       COALESCE(c.reloptions, '{}')::text[] AS options,
       obj_description(c.oid, 'pg_class') AS comment,
       ARRAY(SELECT format('%s TO %s', a.privilege_type,
                          CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                               ELSE quote_ident(pg_get_userbyid(a.grantee)) END)
               FROM aclexplode(c.relacl) a
              WHERE a.grantee <> c.relowner
              ORDER BY 1)::text[] AS grants
  FROM views v
  JOIN pg_class c ON c.oid = v.view_oid AND c.relkind = 'v'
  JOIN pg_class tbl ON tbl.oid = v.table_oid
 GROUP BY c.oid, c.relname, tbl.relname
 ORDER BY 3, 1;
