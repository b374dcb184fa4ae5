-- name: truncate_business_tables
-- CASCADE also empties what hangs off them (plan_tiers, subscription terms and add-ons);
-- tables keyed by tenant without a foreign key are emptied by name.
TRUNCATE billing_analytics, payments, subscriptions, smtp_ip_addresses, vps_instances,
         companies, plans, tenant_signups, tier_state, tier_decisions, tier_alerts CASCADE;

-- name: payment_rows
-- One payment per month for 12 months at the plan price (free plans pay nothing);
-- about 3 percent of months are missing (failed card), chosen by a seeded hash. Inserted into
-- the columns payments has (tenant_id only where the application carries it: fleet.py).
SELECT gen_random_uuid() AS id, s.tenant_id, s.id AS subscription_id,
       p.price_monthly AS amount,
       s.current_period_start - make_interval(months => m) AS billing_period_start
  FROM subscriptions s
  JOIN plans p ON p.id = s.plan_id
 CROSS JOIN generate_series(0, 11) AS m
 WHERE p.price_monthly > 0
   AND abs(hashtextextended(s.id::text || '/' || m, %(seed)s)) %% 100 >= 3;

-- name: billing_analytics_rows
-- Daily email volume per subscription for the last 365 days: the plan's typical volume
-- scaled per tenant (0.2x to 2x) and per day (0.5x to 1.5x), deterministic for the seed.
-- Inserted as payment_rows are.
SELECT gen_random_uuid() AS id, s.tenant_id, s.id AS subscription_id,
       (%(today)s::date - d)::timestamp AT TIME ZONE 'UTC' AS period_start,
       round(v.per_day
             * (0.2 + (abs(hashtextextended(s.id::text, %(seed)s)) %% 1000) / 555.0)
             * (0.5 + (abs(hashtextextended(s.id::text || '/' || d, %(seed)s)) %% 1000) / 1000.0))::bigint
         AS emails_sent
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
-- Earlier demo evidence in [from, to) (NULL: unbounded); real telemetry stays.
DELETE FROM tenant_usage_hourly
 WHERE source = %(source)s
   AND (%(from)s::timestamptz IS NULL OR hour >= %(from)s)
   AND (%(to)s::timestamptz IS NULL OR hour < %(to)s);

-- name: history_insert
-- Demo usage evidence per tenant and hour from seed 002's tier profiles (section 2), shaped by
-- hour of day, day of week, growth over the window, per-tenant scale and noise; deterministic
-- for a seed. Heavy tenants (4 in 100) run 15x; one PRO tenant spikes at %(spike)s: 40x its
-- queries and a runaway query holding 8 vCPUs for the hour (the cost-jump alert).
-- The shaping is float8 (a model, not money; ~10x faster than numeric over a million rows);
-- quantities become NUMERIC, rounded to 6 places, as they are written. Rows go in hour order,
-- so the unique key's index grows at its right edge. Only the hours [%(from)s, %(to)s) of
-- the window [%(start)s, %(end)s) are written: the window is split so several connections
-- can write at once. The target is tenant_usage_hourly, or a month's staging table that
-- load_history attaches as that month's partition (see history.attach_months).
WITH profile (tier, queries_day, seconds, vcpu, ram_mb, storage_gb, egress_gb_month) AS (
    VALUES ('FREE', 10::float8, 0.05::float8, 0.1::float8, 20::float8, 0.1::float8, 0.03::float8),
           ('STARTER', 50, 0.075, 0.15, 30, 2, 0.15),
           ('PRO', 200, 0.1, 0.2, 50, 10, 0.6),
           ('ENTERPRISE', 1000, 0.15, 0.3, 100, 50, 3)
), fleet AS (
    SELECT DISTINCT ON (s.tenant_id) s.tenant_id, pt.tier,
           abs(hashtext(s.tenant_id::text || %(seed)s::text)) AS h
      FROM subscriptions s JOIN plan_tiers pt ON pt.plan_id = s.plan_id
     WHERE s.status = 'active'
     ORDER BY s.tenant_id, pt.tier
), spiking AS (
    SELECT tenant_id FROM fleet WHERE tier = 'PRO' ORDER BY h LIMIT 1
), tenants AS MATERIALIZED (
    SELECT f.tenant_id, f.tenant_id::text AS key, p.*,
           -- per tenant: 0.5 .. 1.5 of the profile, heavy hitters 15x; storage 0.3 .. 1.0 of
           -- the profile (which sits at the tier's ceiling), heavy 6x
           (0.5 + (f.h %% 1000) / 1000.0::float8) * CASE WHEN f.h %% 100 < 4 THEN 15 ELSE 1 END
             AS scale,
           (0.3 + (f.h %% 700) / 1000.0::float8) * CASE WHEN f.h %% 100 < 4 THEN 6 ELSE 1 END
             AS size,
           f.tenant_id IN (SELECT tenant_id FROM spiking) AS spikes
      FROM fleet f JOIN profile p ON p.tier = f.tier
), hours AS MATERIALIZED (  -- once per hour, not once per tenant-hour
    SELECT hour, hour::text AS key,
           -- busy 08-18 UTC, quiet at night; weekends at half
           CASE WHEN extract(hour FROM hour AT TIME ZONE 'UTC') BETWEEN 8 AND 18 THEN 1.8
                WHEN extract(hour FROM hour AT TIME ZONE 'UTC') BETWEEN 19 AND 23 THEN 0.8
                ELSE 0.25 END::float8
             * CASE WHEN extract(isodow FROM hour AT TIME ZONE 'UTC') >= 6 THEN 0.5 ELSE 1.1 END
             AS rhythm,
           -- 0 .. 1 across the window: growth from 0.8 to 1.2, storage from 0.9 to 1.0
           (extract(epoch FROM hour - %(start)s::timestamptz)
              / extract(epoch FROM %(end)s::timestamptz - %(start)s::timestamptz))::float8
             AS elapsed
      FROM generate_series(%(from)s::timestamptz, %(to)s::timestamptz - interval '1 hour',
                           interval '1 hour') AS hour
), shaped AS (
    SELECT t.*, h.hour, h.elapsed,
           t.scale * h.rhythm * (0.8 + 0.4 * h.elapsed)
             -- noise 0.7 .. 1.3
             * (0.7 + (abs(hashtext(t.key || h.key)) %% 600) / 1000.0::float8)
             * CASE WHEN t.spikes AND h.hour = %(spike)s THEN 40 ELSE 1 END AS load,
           CASE WHEN t.spikes AND h.hour = %(spike)s THEN 8 * 3600 ELSE 0 END AS runaway_cpu,
           (abs(hashtext(t.key || h.key || 'q')) %% 1000) / 1000.0::float8 AS dither
      FROM tenants t CROSS JOIN hours h
), quantities AS MATERIALIZED (  -- once per tenant-hour, not once per metric
    SELECT s.tenant_id, s.hour, floor(s.queries_day / 24.0 * s.load + s.dither) AS queries,
           s.seconds, s.vcpu, s.ram_mb, s.storage_gb * s.size * (0.9 + 0.1 * s.elapsed)
             AS storage_gb,
           s.egress_gb_month, s.load, s.runaway_cpu
      FROM shaped s
     ORDER BY s.hour, s.tenant_id
)
INSERT INTO {target} (hour, tenant_id, metric, source, quantity)
SELECT q.hour, q.tenant_id, m.metric, 'demo', round(m.quantity::numeric, 6)
  FROM quantities q
 CROSS JOIN LATERAL (VALUES
     ('query_count', q.queries),
     ('compute_seconds', q.queries * q.seconds * q.vcpu + q.runaway_cpu),
     ('connection_seconds', q.queries * q.seconds * q.ram_mb / %(memory_mb)s),
     ('egress_bytes', q.egress_gb_month * 1000000000 / 730 * q.load),
     ('storage_bytes', q.storage_gb * 1000000000)
 ) AS m (metric, quantity)
 WHERE m.quantity > 0;

-- name: range_has_evidence
-- Any usage evidence at all (any source) in [%(from)s, %(to)s).
SELECT EXISTS (
    SELECT 1 FROM tenant_usage_hourly WHERE hour >= %(from)s AND hour < %(to)s
) AS any;

-- name: mark_changed_days
-- What the statement triggers on tenant_usage_hourly note for rows inserted through it: the
-- UTC days of [%(from)s, %(to)s) changed (pricing removes the mark). For a partition attached
-- in place, and on Citus, where `db distribute` dropped those triggers.
INSERT INTO tenant_usage_changed_days (day)
SELECT DISTINCT (d AT TIME ZONE 'UTC')::date
  FROM generate_series(%(from)s::timestamptz, %(to)s::timestamptz - interval '1 hour',
                       interval '1 hour') AS d
ON CONFLICT (day) DO NOTHING;

-- name: evidence_row_triggers
-- Row-level triggers of the evidence table other than the foreign key's: rows attached as a
-- partition would skip them, so their presence keeps the ordinary insert.
SELECT EXISTS (
    SELECT 1 FROM pg_trigger
     WHERE tgrelid = 'tenant_usage_hourly'::regclass AND NOT tgisinternal
       AND tgtype::int & 1 = 1
) AS any;

-- name: table_columns
-- The columns a table of the application has (payments and billing_analytics carry
-- tenant_id where the application is, or is about to be, distributed by tenant).
SELECT column_name FROM information_schema.columns
 WHERE table_schema = current_schema() AND table_name = %(table)s;
