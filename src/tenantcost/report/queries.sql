-- Reports over the one cost model (migration 0010; README "Metrics" is the glossary).
-- Every report reads tenant_period_figures / tenant_cost_ledger for one period, so the CLI,
-- the dashboard, the API and the exports print the same figure for the same tenant.

-- name: health
-- The seed's "Daily Executive Health Check", judged on the full cost.
SELECT tenant_id, company_name, plan_name, business_health_status, cost_efficiency_score,
       gross_margin_ratio, revenue AS monthly_subscription_revenue,
       total_operational_cost, monthly_profit
  FROM tenant_period_figures
 WHERE period = %(period)s
 ORDER BY cost_efficiency_score DESC, company_name, tenant_id;

-- name: optimization
-- The seed's "Cost Optimization Opportunities" (Excellent tenants are left out).
SELECT tenant_id, company_name, plan_name, business_health_status, cost_efficiency_score,
       CASE WHEN cost_efficiency_score < 50 THEN 'High Optimization Potential'
            WHEN cost_efficiency_score < 75 THEN 'Moderate Optimization Potential'
            ELSE 'Well Optimized'
       END AS optimization_category,
       revenue * 2 - total_operational_cost AS optimization_opportunity
  FROM tenant_period_figures
 WHERE period = %(period)s AND business_health_status <> 'Excellent'
 ORDER BY optimization_opportunity DESC, company_name, tenant_id;

-- name: cost_by_plan
-- The seed's "Monthly Cost Analysis", grouped by plan.
SELECT plan_name,
       count(*) AS tenant_count,
       avg(infrastructure_costs) AS avg_infrastructure_cost,
       avg(email_service_costs) AS avg_email_service_cost,
       avg(usage_cost) AS avg_usage_cost,
       avg(total_operational_cost) AS avg_total_cost,
       avg(monthly_profit) AS avg_monthly_profit,
       avg(business_efficiency_ratio) AS avg_efficiency_ratio
  FROM tenant_period_figures
 WHERE period = %(period)s
 GROUP BY plan_name
 ORDER BY avg_efficiency_ratio DESC NULLS LAST, plan_name;

-- name: cost_per_email
-- The seed's "Cost Per Email Analysis" (tenants that sent no email are left out); health and
-- emails ride along for the dashboard's filters.
SELECT tenant_id, company_name, plan_name, business_health_status, emails_sent,
       cost_per_email_delivered, total_operational_cost AS total_monthly_cost, monthly_profit,
       business_efficiency_ratio,
       CASE WHEN cost_per_email_delivered < 0.01 THEN 'Highly Efficient'
            WHEN cost_per_email_delivered < 0.02 THEN 'Efficient'
            WHEN cost_per_email_delivered < 0.05 THEN 'Moderate'
            ELSE 'Needs Optimization'
       END AS efficiency_category
  FROM tenant_period_figures
 WHERE period = %(period)s AND cost_per_email_delivered > 0
 ORDER BY cost_per_email_delivered ASC, company_name, tenant_id;

-- name: shared
-- Fixed cost charged to no tenant: the unallocated shared line first, then companies without
-- an active subscription that still own active resources.
SELECT l.line, nullif(l.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_id, co.name AS company_name,
       coalesce(sum(l.amount) FILTER (WHERE l.driver IN ('vps', 'shared_vps')), 0) AS infrastructure_cost,
       coalesce(sum(l.amount) FILTER (WHERE l.driver IN ('dedicated_ips', 'shared_ips')), 0) AS email_service_cost,
       sum(l.amount) AS total_cost, p.allocation_rule
  FROM tenant_cost_ledger l
  JOIN tenant_cost_periods p ON p.period = l.period
  LEFT JOIN companies co ON co.id = l.tenant_id
 WHERE l.period = %(period)s AND l.line IN ('shared_unallocated', 'no_active_subscription')
 GROUP BY l.line, l.tenant_id, co.name, p.allocation_rule
 ORDER BY l.line = 'shared_unallocated' DESC, sum(l.amount) DESC, co.name, l.tenant_id;

-- name: tenant_costs
-- One row per tenant: cost by driver group, total, revenue, profit and margin.
SELECT tenant_id, company_name, plan_name, compute_cost AS compute, memory_cost AS memory,
       storage_cost AS storage, network_cost AS network,
       infrastructure_costs + email_service_costs AS vps_and_ips,
       addon_cost AS addons, platform_overhead_cost AS overhead,
       total_operational_cost AS total_cost, revenue, monthly_profit, gross_margin_pct,
       compute_source
  FROM tenant_period_figures
 WHERE period = %(period)s
 ORDER BY total_operational_cost DESC, company_name, tenant_id;

-- name: non_tenant_lines
-- Lines charged to no tenant, by line and driver group (no tenant: the nil UUID, shown NULL).
SELECT line, nullif(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_id,
       coalesce(sum(amount) FILTER (WHERE driver = 'compute'), 0) AS compute,
       coalesce(sum(amount) FILTER (WHERE driver = 'memory'), 0) AS memory,
       coalesce(sum(amount) FILTER (WHERE driver = 'storage'), 0) AS storage,
       coalesce(sum(amount) FILTER (WHERE driver = 'network'), 0) AS network,
       coalesce(sum(amount) FILTER (WHERE driver IN ('vps', 'shared_vps', 'dedicated_ips',
                                                     'shared_ips')), 0) AS vps_and_ips,
       coalesce(sum(amount) FILTER (WHERE driver IN ('usage', 'platform_overhead')), 0) AS overhead,
       sum(amount) AS total_cost
  FROM tenant_cost_ledger
 WHERE period = %(period)s AND line NOT IN ('tenant')
 GROUP BY line, tenant_id
 ORDER BY line, tenant_id;

-- name: drivers
-- The period's total by line and driver (the cost drivers report and chart).
SELECT line, driver, sum(amount) AS amount, string_agg(DISTINCT fidelity, ', ') AS fidelity
  FROM tenant_cost_ledger
 WHERE period = %(period)s
 GROUP BY line, driver;

-- name: period
SELECT * FROM tenant_cost_periods WHERE period = %(period)s;

-- name: latest_period
SELECT tenantcost_latest_period() AS period;

-- name: periods
SELECT period, status, covered_until FROM tenant_cost_periods ORDER BY period DESC;

-- name: freshness
SELECT r.refreshed_at,
       GREATEST(0, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END
                      FROM tenantcost_cost_input_changes) - r.changes_seen) AS changes_pending
  FROM (SELECT 1) one
  LEFT JOIN tenantcost_refresh_state r ON true;

-- name: figures_tenant_count
SELECT count(*) AS tenants FROM tenant_period_figures WHERE period = %(period)s;

-- name: reconcile_fixed
-- The period's fixed lines against the active resources' monthly cost x the covered share.
SELECT (SELECT coalesce(sum(amount), 0) FROM tenant_cost_ledger
         WHERE period = %(period)s
           AND driver IN ('vps', 'shared_vps', 'dedicated_ips', 'shared_ips')) AS lines,
       (SELECT coalesce(sum(approximate_cost), 0) FROM vps_instances WHERE status = 'active')
       + (SELECT coalesce(sum(approximate_cost), 0) FROM smtp_ip_addresses
           WHERE status IN ('active', 'warmed', 'warming')) AS monthly_resources;

-- name: reconcile_rules
-- Every allocation rule, whichever is configured: tenants + shared lines = resources (monthly).
SELECT r.rule,
       (SELECT COALESCE(sum(l.direct_infrastructure_cost + l.shared_infrastructure_cost
                            + l.direct_email_service_cost + l.shared_email_service_cost), 0)
          FROM tenantcost_cost_lines(r.rule) l WHERE l.line = 'tenant') AS tenants,
       (SELECT COALESCE(sum(l.direct_infrastructure_cost + l.shared_infrastructure_cost
                            + l.direct_email_service_cost + l.shared_email_service_cost), 0)
          FROM tenantcost_cost_lines(r.rule) l WHERE l.line <> 'tenant') AS unallocated,
       (SELECT COALESCE(sum(approximate_cost), 0) FROM vps_instances WHERE status = 'active')
       + (SELECT COALESCE(sum(approximate_cost), 0) FROM smtp_ip_addresses
           WHERE status IN ('active', 'warmed', 'warming')) AS resources
  FROM unnest(ARRAY['none', 'even', 'emails_sent']) WITH ORDINALITY AS r (rule, n)
 ORDER BY r.n;

-- name: reconcile_figures
-- Figures against the ledger: each tenant's cost = its ledger lines; the period's total =
-- tenants + lines charged to no tenant.
SELECT (SELECT coalesce(sum(total_operational_cost), 0) FROM tenant_period_figures
         WHERE period = %(period)s) AS figures,
       (SELECT coalesce(sum(amount), 0) FROM tenant_cost_ledger
         WHERE period = %(period)s AND line = 'tenant') AS tenant_lines,
       (SELECT coalesce(sum(amount), 0) FROM tenant_cost_ledger
         WHERE period = %(period)s) AS ledger_total,
       (SELECT total FROM tenant_cost_periods WHERE period = %(period)s) AS period_total;

-- name: figures_owner
-- Recomputing figures reads every tenant's rows: the owner must see them through RLS.
SELECT c.relname, r.rolname AS owner,
       (r.rolsuper OR r.rolbypassrls OR pg_has_role(r.oid, 'db_administrators', 'MEMBER'))
           AS reads_all
  FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
 WHERE c.oid = to_regclass('tenant_period_figures');

-- name: seed_indexes
SELECT i.relname AS index_name, t.relname AS table_name
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
 WHERE i.relname = ANY(%(names)s);
