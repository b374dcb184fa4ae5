-- 0022: the seed's tenant_resource_usage reads the days rolled up into daily evidence too
-- (revision 0020 keeps hourly evidence TENANTCOST_USAGE_HOURLY_DAYS, so late in a month its
-- first days are daily evidence only). Same columns; the days' best source is per day.
CREATE OR REPLACE VIEW tenant_resource_usage WITH (security_invoker = true) AS
WITH month AS (
    SELECT date_trunc('month', now(), 'UTC') AS start
), chosen AS (
    -- per tenant-hour and metric, the best source (lowest priority); storage sources add up
    SELECT DISTINCT ON (u.tenant_id, u.hour, u.metric, CASE WHEN u.metric = 'storage_bytes' THEN u.source END)
           u.tenant_id, u.hour, u.metric, u.quantity, u.updated_at
      FROM tenant_usage_hourly u
      JOIN telemetry_metrics m USING (metric, source)
     WHERE u.hour >= (SELECT start FROM month) AND u.tenant_id IS NOT NULL
     ORDER BY u.tenant_id, u.hour, u.metric,
              CASE WHEN u.metric = 'storage_bytes' THEN u.source END, m.priority
), chosen_days AS (
    -- days rolled up into daily evidence (revision 0020): best source per tenant-day and
    -- metric; counters their day's sum, peaks their largest hour, storage its last hour
    SELECT DISTINCT ON (d.tenant_id, d.day, d.metric, CASE WHEN d.metric = 'storage_bytes' THEN d.source END)
           d.tenant_id, (d.day + make_interval(hours => d.last_hour)) AT TIME ZONE 'UTC' AS hour,
           d.metric,
           CASE WHEN d.metric = 'storage_bytes' THEN d.last_quantity
                WHEN m.aggregate = 'max' THEN d.peak
                ELSE d.quantity END AS quantity,
           NULL::timestamptz AS updated_at
      FROM tenant_usage_daily d
      JOIN telemetry_metrics m USING (metric, source)
     WHERE d.day >= ((SELECT start FROM month) AT TIME ZONE 'UTC')::date AND d.tenant_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM tenant_usage_hourly u
                        WHERE u.tenant_id = d.tenant_id AND u.source = d.source
                          AND u.hour >= d.day::timestamp AT TIME ZONE 'UTC'
                          AND u.hour < (d.day + 1)::timestamp AT TIME ZONE 'UTC')
     ORDER BY d.tenant_id, d.day, d.metric,
              CASE WHEN d.metric = 'storage_bytes' THEN d.source END, m.priority
), evidence AS (
    SELECT * FROM chosen UNION ALL SELECT * FROM chosen_days
), latest_storage AS (
    SELECT DISTINCT ON (tenant_id) tenant_id, hour
      FROM evidence WHERE metric = 'storage_bytes'
     ORDER BY tenant_id, hour DESC
), per_tenant AS (
    SELECT c.tenant_id,
           sum(c.quantity) FILTER (WHERE c.metric = 'compute_seconds') AS compute_seconds,
           max(c.quantity) FILTER (WHERE c.metric = 'memory_mb_peak') AS memory_mb_peak,
           sum(c.quantity) FILTER (WHERE c.metric = 'storage_bytes'
                                     AND c.hour = ls.hour) AS storage_bytes,
           sum(c.quantity) FILTER (WHERE c.metric = 'egress_bytes') AS egress_bytes,
           sum(c.quantity) FILTER (WHERE c.metric = 'query_count') AS query_count,
           max(c.updated_at) FILTER (WHERE c.metric IN ('query_count', 'active_seconds')
                                       AND c.quantity > 0) AS last_active
      FROM evidence c
      LEFT JOIN latest_storage ls ON ls.tenant_id = c.tenant_id
     GROUP BY c.tenant_id
), tiers AS (
    SELECT s.tenant_id, string_agg(DISTINCT p.name, ' + ' ORDER BY p.name) AS tier
      FROM subscriptions s JOIN plans p ON p.id = s.plan_id
     WHERE s.status = 'active'
     GROUP BY s.tenant_id
)
SELECT t.tenant_id,
       round(coalesce(t.compute_seconds, 0) * 1000)::bigint AS cpu_ms_total,
       round(coalesce(t.memory_mb_peak, 0))::integer AS ram_mb_peak,
       round(coalesce(t.storage_bytes, 0) / 1e9, 2)::numeric(10,2) AS storage_gb,
       round(coalesce(t.egress_bytes, 0) / 1e9, 2)::numeric(10,2) AS network_gb,
       round(coalesce(t.query_count, 0))::bigint AS query_count,
       t.last_active,
       tiers.tier
  FROM per_tenant t
  LEFT JOIN tiers ON tiers.tenant_id = t.tenant_id;
COMMENT ON VIEW tenant_resource_usage IS
'Seed 002''s tenant_resource_usage over the current UTC month of usage evidence: tenant_usage_hourly, and tenant_usage_daily for the days rolled up (best source per metric, see telemetry_metrics; per day for rolled-up days). GB are decimal (1e9 bytes). tier is the plan name until tiers exist. Internal approximation.';
