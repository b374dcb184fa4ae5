-- name: column_spec
SELECT c.table_name, c.column_name, c.data_type, c.numeric_precision, c.numeric_scale,
       c.is_nullable, c.column_default,
       col_description(format('%%I', c.table_name)::regclass, c.ordinal_position) AS comment
  FROM information_schema.columns c
 WHERE c.table_schema = current_schema()
   AND c.table_name = %(table)s AND c.column_name = %(column)s;

-- name: constraint_def
SELECT pg_get_constraintdef(oid) AS definition, convalidated
  FROM pg_constraint
 WHERE conname = %(name)s AND conrelid = to_regclass(%(table)s);

-- name: index_def
SELECT pg_get_indexdef(i.indexrelid) AS definition,
       pg_get_expr(i.indpred, i.indrelid) AS predicate
  FROM pg_index i
 WHERE i.indexrelid = to_regclass(%(name)s);

-- name: role
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = %(role)s;

-- name: table_privilege
SELECT has_table_privilege(%(role)s, to_regclass(%(table)s), %(privilege)s) AS granted;

-- name: relation_exists
SELECT to_regclass(%(name)s) IS NOT NULL AS present;

-- name: rls_state
SELECT relrowsecurity AS enabled, relforcerowsecurity AS forced,
       ARRAY(SELECT polname::text FROM pg_policy WHERE polrelid = c.oid ORDER BY polname) AS policies
  FROM pg_class c WHERE c.oid = to_regclass(%(table)s);

-- name: ip_constant_mismatches
SELECT count(*) AS mismatched,
       (SELECT value FROM cost_settings WHERE key = 'smtp_ip_monthly_cost') AS constant
  FROM smtp_ip_addresses
 WHERE NOT cost_override
   AND status IN ('active', 'warmed', 'warming')
   AND approximate_cost IS DISTINCT FROM
       (SELECT value::numeric FROM cost_settings WHERE key = 'smtp_ip_monthly_cost');
