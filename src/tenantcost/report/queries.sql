-- Reports over the BI views (see docs: README "Metrics").
-- {summary}, {allocation} and {shared} name the source relations: the materialized rollups
-- through their tenant-filtering views by default, or the plain (live) views with --live.
-- Both sources have the same column names, so each report is written once.

-- name: health
-- The seed's "Daily Executive Health Check".
SELECT tenant_id, company_name, plan_name, business_health_status, cost_efficiency_score,
       gross_margin_ratio, monthly_subscription_revenue, total_operational_cost, monthly_profit
  FROM {summary}
 ORDER BY cost_efficiency_score DESC, company_name, tenant_id;

-- name: optimization
-- The seed's "Cost Optimization Opportunities" (Excellent tenants are left out).
SELECT tenant_id, company_name, plan_name, business_health_status, cost_efficiency_score,
       CASE WHEN cost_efficiency_score < 50 THEN 'High Optimization Potential'
            WHEN cost_efficiency_score < 75 THEN 'Moderate Optimization Potential'
            ELSE 'Well Optimized'
       END AS optimization_category,
       monthly_subscription_revenue * 2 - total_operational_cost AS optimization_opportunity
  FROM {summary}
 WHERE business_health_status <> 'Excellent'
 ORDER BY optimization_opportunity DESC, company_name, tenant_id;

-- name: cost_by_plan
-- The seed's "Monthly Cost Analysis" (grouped by plan); averages rounded for presentation.
SELECT plan_name,
       count(*) AS tenant_count,
       round(avg(total_infrastructure_cost), 2) AS avg_infrastructure_cost,
       round(avg(total_email_service_cost), 2) AS avg_email_service_cost,
       round(avg(total_monthly_cost), 2) AS avg_total_cost,
       round(avg(monthly_profit), 2) AS avg_monthly_profit,
       round(avg(business_efficiency_ratio), 2) AS avg_efficiency_ratio
  FROM {allocation}
 GROUP BY plan_name
 ORDER BY avg_efficiency_ratio DESC, plan_name;

-- name: cost_per_email
-- The seed's "Cost Per Email Analysis" (tenants that sent no email are left out); health and
-- emails ride along for the dashboard's filters.
SELECT a.tenant_id, a.company_name, a.plan_name, s.business_health_status, a.emails_sent,
       a.cost_per_email_delivered, a.total_monthly_cost, a.monthly_profit,
       a.business_efficiency_ratio,
       CASE WHEN a.cost_per_email_delivered < 0.01 THEN 'Highly Efficient'
            WHEN a.cost_per_email_delivered < 0.02 THEN 'Efficient'
            WHEN a.cost_per_email_delivered < 0.05 THEN 'Moderate'
            ELSE 'Needs Optimization'
       END AS efficiency_category
  FROM {allocation} a
  JOIN {summary} s ON s.tenant_id = a.tenant_id
 WHERE a.cost_per_email_delivered > 0
 ORDER BY a.cost_per_email_delivered ASC, a.company_name, a.tenant_id;

-- name: shared
-- Cost charged to no tenant: the unallocated shared line first, then companies without an
-- active subscription that still own active resources.
SELECT line, tenant_id, company_name, infrastructure_cost, email_service_cost, total_cost,
       allocation_rule
  FROM {shared}
 ORDER BY line = 'shared_unallocated' DESC, total_cost DESC, company_name, tenant_id;

-- name: refresh
SELECT tenantcost_refresh_rollups();

-- name: rollup_state
SELECT s.refreshed_at, s.allocation_rule,
       tenantcost_shared_cost_allocation() AS current_rule,
       (SELECT count(*) FROM executive_business_rollup) AS tenants
  FROM shared_cost_rollup s
 WHERE s.line = 'shared_unallocated';

-- name: reconcile_views
-- The configured rule, through the views: tenants + unallocated = active resources.
SELECT tenantcost_shared_cost_allocation() AS rule,
       (SELECT COALESCE(sum(total_operational_cost), 0) FROM executive_business_summary)
           AS tenants,
       (SELECT COALESCE(sum(total_cost), 0) FROM shared_infrastructure_cost) AS unallocated,
       (SELECT COALESCE(sum(approximate_cost), 0) FROM vps_instances WHERE status = 'active')
       + (SELECT COALESCE(sum(approximate_cost), 0) FROM smtp_ip_addresses
           WHERE status IN ('active', 'warmed', 'warming')) AS resources;

-- name: reconcile_rules
-- Every allocation rule, whichever is configured.
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

-- name: rollup_owner
-- REFRESH runs the rollups' query as their owner: it must see every tenant through RLS.
SELECT c.relname, r.rolname AS owner, c.relispopulated AS populated,
       (r.rolsuper OR r.rolbypassrls OR pg_has_role(r.oid, 'business_analysts', 'MEMBER'))
           AS reads_all
  FROM pg_class c
  JOIN pg_roles r ON r.oid = c.relowner
 WHERE c.oid IN (to_regclass('executive_business_rollup'),
                 to_regclass('business_cost_allocation_rollup'),
                 to_regclass('shared_cost_rollup'))
 ORDER BY c.relname;

-- name: rollup_indexes
SELECT i.relname AS index_name, t.relname AS table_name, x.indisunique AS is_unique
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
 WHERE i.relname = ANY(%(names)s);
