-- name: truncate_business_tables
-- CASCADE also empties what hangs off them (plan_tiers, subscription terms and add-ons);
-- tables keyed by tenant without a foreign key are emptied by name.
TRUNCATE billing_analytics, payments, subscriptions, smtp_ip_addresses, vps_instances,
         companies, plans, tenant_signups, tier_state, tier_decisions, tier_alerts CASCADE;

-- name: insert_payments
-- One payment per month for 12 months at the plan price (free plans pay nothing);
-- about 3 percent of months are missing (failed card), chosen by a seeded hash.
INSERT INTO payments (subscription_id, amount, billing_period_start)
SELECT s.id, p.price_monthly, s.current_period_start - make_interval(months => m)
  FROM subscriptions s
  JOIN plans p ON p.id = s.plan_id
 CROSS JOIN generate_series(0, 11) AS m
 WHERE p.price_monthly > 0
   AND abs(hashtextextended(s.id::text || '/' || m, %(seed)s)) %% 100 >= 3;

-- name: insert_billing_analytics
-- Daily email volume per subscription for the last 365 days: the plan's typical volume
-- scaled per tenant (0.2x to 2x) and per day (0.5x to 1.5x), deterministic for the seed.
INSERT INTO billing_analytics (subscription_id, period_start, emails_sent)
SELECT s.id,
       (%(today)s::date - d)::timestamp AT TIME ZONE 'UTC',
       round(v.per_day
             * (0.2 + (abs(hashtextextended(s.id::text, %(seed)s)) %% 1000) / 555.0)
             * (0.5 + (abs(hashtextextended(s.id::text || '/' || d, %(seed)s)) %% 1000) / 1000.0))::bigint
  FROM subscriptions s
  JOIN plans p ON p.id = s.plan_id
  JOIN unnest(%(plan_names)s::text[], %(per_day)s::int[]) AS v (plan_name, per_day)
       ON v.plan_name = p.name
 CROSS JOIN generate_series(0, 364) AS d;

-- name: fleet_summary
-- Per plan: tenants with an active subscription, their list revenue, and their dedicated
-- active VPS (count and monthly cost). Each source is aggregated per tenant first.
WITH tenants AS (
    SELECT s.tenant_id, p.name AS plan, p.price_monthly
      FROM subscriptions s JOIN plans p ON p.id = s.plan_id
     WHERE s.status = 'active'
), vps AS (
    SELECT tenant_id, count(*) AS n, sum(approximate_cost) AS cost
      FROM vps_instances
     WHERE status = 'active' AND tenant_id IS NOT NULL
     GROUP BY tenant_id
)
SELECT t.plan, min(t.price_monthly) AS price_monthly, count(*) AS tenants,
       sum(t.price_monthly) AS monthly_revenue,
       coalesce(sum(vps.n), 0) AS dedicated_vps,
       coalesce(sum(vps.cost), 0.00) AS dedicated_vps_cost
  FROM tenants t LEFT JOIN vps USING (tenant_id)
 GROUP BY t.plan
 ORDER BY min(t.price_monthly);

-- name: resource_summary
-- Shared = no owning tenant, directly (ip.tenant_id) or through the VPS.
SELECT 'vps' AS resource, count(*) FILTER (WHERE tenant_id IS NULL) AS shared,
       count(*) FILTER (WHERE tenant_id IS NOT NULL) AS dedicated,
       coalesce(sum(approximate_cost) FILTER (WHERE status = 'active'), 0.00) AS active_monthly_cost
  FROM vps_instances
UNION ALL
SELECT 'ip',
       count(*) FILTER (WHERE coalesce(ip.tenant_id, v.tenant_id) IS NULL),
       count(*) FILTER (WHERE coalesce(ip.tenant_id, v.tenant_id) IS NOT NULL),
       coalesce(sum(ip.approximate_cost) FILTER (WHERE ip.status IN ('active', 'warmed', 'warming')), 0.00)
  FROM smtp_ip_addresses ip
  LEFT JOIN vps_instances v ON v.id = ip.vps_instance_id;

-- name: linked_vps
SELECT hostwinds_service_id, hostwinds_plan_id, billing_cycle
  FROM vps_instances
 WHERE hostwinds_service_id IS NOT NULL
 ORDER BY hostwinds_service_id;

-- name: workload_tenants
-- The demo workload's tenants: the first FREE, STARTER and PRO company by name (a FREE
-- tenant driven 4x a STARTER one, and an idle PRO one).
SELECT tenant_id, name, tier FROM (
    SELECT DISTINCT ON (pt.tier) c.id AS tenant_id, c.name, pt.tier
      FROM companies c
      JOIN subscriptions s ON s.tenant_id = c.id AND s.status = 'active'
      JOIN plan_tiers pt ON pt.plan_id = s.plan_id
     WHERE pt.tier IN ('FREE', 'STARTER', 'PRO')
     ORDER BY pt.tier, c.name
) picked
ORDER BY array_position(ARRAY['FREE', 'STARTER', 'PRO'], tier);
