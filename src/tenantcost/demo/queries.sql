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

-- name: history_delete
DELETE FROM tenant_usage_hourly WHERE source = %(source)s;

-- name: history_insert
-- Demo usage evidence per tenant and hour from seed 002's tier profiles (section 2), shaped by
-- hour of day, day of week, growth over the window, per-tenant scale and noise; deterministic
-- for a seed. Heavy tenants (4 in 100) run 15x; one PRO tenant spikes at %(spike)s: 40x its
-- queries and a runaway query holding 8 vCPUs for the hour (the cost-jump alert).
WITH profile (tier, queries_day, seconds, vcpu, ram_mb, storage_gb, egress_gb_month) AS (
    VALUES ('FREE', 10, 0.05, 0.1, 20, 0.1, 0.03),
           ('STARTER', 50, 0.075, 0.15, 30, 2, 0.15),
           ('PRO', 200, 0.1, 0.2, 50, 10, 0.6),
           ('ENTERPRISE', 1000, 0.15, 0.3, 100, 50, 3)
), tenants AS (
    SELECT DISTINCT ON (s.tenant_id) s.tenant_id, pt.tier,
           abs(hashtext(s.tenant_id::text || %(seed)s::text)) AS h
      FROM subscriptions s JOIN plan_tiers pt ON pt.plan_id = s.plan_id
     WHERE s.status = 'active'
     ORDER BY s.tenant_id, pt.tier
), spiking AS (
    SELECT tenant_id FROM tenants WHERE tier = 'PRO' ORDER BY h LIMIT 1
), hours AS (
    SELECT generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                           interval '1 hour') AS hour
), shaped AS (
    SELECT t.tenant_id, h.hour, p.*,
           -- per tenant: 0.5 .. 1.5 of the profile, heavy hitters 15x
           (0.5 + (t.h %% 1000) / 1000.0) * CASE WHEN t.h %% 100 < 4 THEN 15 ELSE 1 END
             -- busy 08-18 UTC, quiet at night; weekends at half
             * CASE WHEN extract(hour FROM h.hour AT TIME ZONE 'UTC') BETWEEN 8 AND 18 THEN 1.8
                    WHEN extract(hour FROM h.hour AT TIME ZONE 'UTC') BETWEEN 19 AND 23 THEN 0.8
                    ELSE 0.25 END
             * CASE WHEN extract(isodow FROM h.hour AT TIME ZONE 'UTC') >= 6 THEN 0.5 ELSE 1.1 END
             -- growth: from 0.8 to 1.2 across the window
             * (0.8 + 0.4 * extract(epoch FROM h.hour - %(start)s::timestamptz)
                      / extract(epoch FROM %(end)s::timestamptz - %(start)s::timestamptz))
             -- noise 0.7 .. 1.3
             * (0.7 + (abs(hashtext(t.tenant_id::text || h.hour::text)) %% 600) / 1000.0)
             * CASE WHEN h.hour = %(spike)s AND t.tenant_id IN (SELECT tenant_id FROM spiking)
                    THEN 40 ELSE 1 END AS load,
           CASE WHEN h.hour = %(spike)s AND t.tenant_id IN (SELECT tenant_id FROM spiking)
                THEN 8 * 3600 ELSE 0 END AS runaway_cpu,
           -- storage: 0.3 .. 1.0 of the profile (which sits at the tier's ceiling), heavy 6x
           (0.3 + (t.h %% 700) / 1000.0) * CASE WHEN t.h %% 100 < 4 THEN 6 ELSE 1 END
             * (0.9 + 0.1 * extract(epoch FROM h.hour - %(start)s::timestamptz)
                      / extract(epoch FROM %(end)s::timestamptz - %(start)s::timestamptz))
             AS size
      FROM tenants t JOIN profile p ON p.tier = t.tier CROSS JOIN hours h
), quantities AS (
    SELECT s.tenant_id, s.hour,
           floor(s.queries_day / 24.0 * s.load
                 + (abs(hashtext(s.tenant_id::text || s.hour::text || 'q')) %% 1000) / 1000.0)
             AS queries,
           s.seconds, s.vcpu, s.ram_mb, s.storage_gb * s.size AS storage_gb,
           s.egress_gb_month, s.load, s.runaway_cpu
      FROM shaped s
)
INSERT INTO tenant_usage_hourly (hour, tenant_id, metric, source, quantity)
SELECT q.hour, q.tenant_id, m.metric, 'demo', round(m.quantity, 6)
  FROM quantities q
 CROSS JOIN LATERAL (VALUES
     ('query_count', q.queries),
     ('compute_seconds', q.queries * q.seconds * q.vcpu + q.runaway_cpu),
     ('connection_seconds', q.queries * q.seconds * q.ram_mb / %(memory_mb)s),
     ('egress_bytes', q.egress_gb_month * 1000000000 / 730 * q.load),
     ('storage_bytes', q.storage_gb * 1000000000)
 ) AS m (metric, quantity)
 WHERE m.quantity > 0;
