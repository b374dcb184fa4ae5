-- name: audit_context
-- Source and reason for the audit rows the cost triggers write in this transaction.
SELECT set_config('tenantcost.audit_source', %(source)s, true),
       set_config('tenantcost.audit_reason', %(reason)s, true);

-- name: setting_get_for_update
SELECT key, value FROM cost_settings WHERE key = %(key)s FOR UPDATE;

-- name: setting_update
UPDATE cost_settings
   SET value = %(value)s, updated_at = now(), updated_by = current_user
 WHERE key = %(key)s;

-- name: settings_list
SELECT key, value, description, updated_at, updated_by FROM cost_settings ORDER BY key;

-- name: reprice_ips
-- Every billable IP without a Finance override carries the constant (the trigger audits each).
UPDATE smtp_ip_addresses
   SET approximate_cost = %(value)s::numeric,
       cost_source = 'setting',
       cost_updated_at = now()
 WHERE NOT cost_override
   AND status IN ('active', 'warmed', 'warming')
   AND approximate_cost IS DISTINCT FROM %(value)s::numeric;

-- name: vps_for_update
SELECT id, approximate_cost, cost_override, cost_source FROM vps_instances
 WHERE id::text = %(id)s FOR UPDATE;

-- name: ip_for_update
SELECT id, approximate_cost, cost_override, cost_source FROM smtp_ip_addresses
 WHERE id::text = %(id)s FOR UPDATE;

-- name: vps_set_override
UPDATE vps_instances
   SET approximate_cost = %(amount)s, cost_override = true, cost_source = 'override',
       cost_updated_at = now()
 WHERE id::text = %(id)s;

-- name: ip_set_override
UPDATE smtp_ip_addresses
   SET approximate_cost = %(amount)s, cost_override = true, cost_source = 'override',
       cost_updated_at = now()
 WHERE id::text = %(id)s;

-- name: vps_clear_override
-- The value stays until the next Hostwinds sync prices it again.
UPDATE vps_instances SET cost_override = false, cost_source = 'manual', cost_updated_at = now()
 WHERE id::text = %(id)s;

-- name: ip_clear_override
-- Clearing fires the IP pricing trigger, which puts the constant back on billable IPs.
UPDATE smtp_ip_addresses SET cost_override = false, cost_source = 'manual'
 WHERE id::text = %(id)s
RETURNING approximate_cost;

-- name: audit_insert
-- A change the triggers do not see (tier prices and ceilings live outside the cost tables).
INSERT INTO cost_audit (entity, entity_id, old_value, new_value, source, reason)
VALUES (%(entity)s, %(entity_id)s, %(old_value)s, %(new_value)s, %(source)s, %(reason)s);

-- name: trigger_missing
-- True on Citus when the application made this table a reference table and the trigger
-- could not be created there (revisions 0004, 0015); false on PostgreSQL.
SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                        WHERE tgrelid = to_regclass(%(table)s) AND tgname = %(trigger)s)
       AS missing;

-- name: reprice_ips_targets
-- The IPs reprice_ips is about to change, locked, with their cost before (for the audit rows
-- tenantcost writes itself where no trigger does).
SELECT id::text AS id, approximate_cost FROM smtp_ip_addresses
 WHERE NOT cost_override
   AND status IN ('active', 'warmed', 'warming')
   AND approximate_cost IS DISTINCT FROM %(value)s::numeric
   FOR UPDATE;

-- name: ip_clear_override_priced
-- ip_clear_override where no pricing trigger exists (Citus): the same outcome, in the statement
-- (at: the transaction's now(); Citus allows no non-immutable function inside CASE there).
UPDATE smtp_ip_addresses
   SET cost_override = false,
       approximate_cost = CASE WHEN status IN ('active', 'warmed', 'warming')
                               THEN %(constant)s::numeric ELSE approximate_cost END,
       cost_source = CASE WHEN status IN ('active', 'warmed', 'warming')
                               AND approximate_cost IS DISTINCT FROM %(constant)s::numeric
                          THEN 'setting' ELSE 'manual' END,
       cost_updated_at = CASE WHEN status IN ('active', 'warmed', 'warming')
                                   AND approximate_cost IS DISTINCT FROM %(constant)s::numeric
                              THEN %(at)s::timestamptz ELSE cost_updated_at END
 WHERE id::text = %(id)s
RETURNING approximate_cost;
