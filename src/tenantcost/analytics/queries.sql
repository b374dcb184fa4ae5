-- PostHog export: what the events are built from. Every figure is read from the cost model
-- (tenant_period_figures, tenant_cost_daily) or the tier tables, never recomputed here.

-- name: watermarks
SELECT kind, through, last_run_at, enqueued FROM posthog_export_state ORDER BY kind;

-- name: watermark_upsert
INSERT INTO posthog_export_state (kind, through, last_run_at, enqueued)
VALUES (%(kind)s, %(through)s, %(now)s, %(enqueued)s)
ON CONFLICT (kind) DO UPDATE
   SET through = GREATEST(posthog_export_state.through, EXCLUDED.through),
       last_run_at = EXCLUDED.last_run_at,
       enqueued = posthog_export_state.enqueued + EXCLUDED.enqueued;

-- name: last_run
SELECT min(last_run_at) AS last_run_at FROM posthog_export_state;

-- name: queued_keys
-- Which of these keys the posthog sink already has in the outbox (sent or waiting).
SELECT dedupe_key FROM outbox WHERE sink = 'posthog' AND dedupe_key = ANY(%(keys)s);

-- name: decisions
SELECT tenant_id, tier, hour, from_level, to_level, ceiling, figure, ceiling_value, ratio,
       episode_since
  FROM tier_decisions
 WHERE hour >= %(since)s
 ORDER BY hour, tenant_id;

-- name: alerts_opened
SELECT kind, subject, opened_at, closed_at, message, details
  FROM tier_alerts
 WHERE opened_at >= %(since)s
 ORDER BY opened_at, id;

-- name: alerts_closed
SELECT kind, subject, opened_at, closed_at, message, details
  FROM tier_alerts
 WHERE closed_at IS NOT NULL AND closed_at >= %(since)s
 ORDER BY closed_at, id;

-- name: period
SELECT period, status, covered_until FROM tenant_cost_periods WHERE period = %(period)s;

-- name: figures
SELECT tenant_id, company_name, plan_name, tier, period, revenue, total_operational_cost,
       monthly_profit, gross_margin_pct, business_health_status
  FROM tenant_period_figures
 WHERE period = %(period)s
 ORDER BY tenant_id;

-- name: setting
SELECT value FROM cost_settings WHERE key = %(key)s;

-- name: daily_costs
-- Each complete UTC day in [first, last] (its month closed, or attributed past the day's
-- end): every tenant of that month with the day's usage cost by driver at list prices and the
-- month's figures.
WITH days AS (
    SELECT d::date AS day
      FROM generate_series(%(first)s::date::timestamp, %(last)s::date::timestamp,
                           interval '1 day') AS d
), usage AS (
    SELECT c.day, c.tenant_id,
           coalesce(sum(c.amount) FILTER (WHERE c.driver = 'compute'), 0) AS compute,
           coalesce(sum(c.amount) FILTER (WHERE c.driver = 'memory'), 0) AS memory,
           coalesce(sum(c.amount) FILTER (WHERE c.driver = 'storage'), 0) AS storage,
           coalesce(sum(c.amount) FILTER (WHERE c.driver = 'network'), 0) AS network,
           sum(c.amount) AS usage_cost
      FROM tenant_cost_daily c
     WHERE c.line = 'tenant' AND c.day BETWEEN %(first)s::date AND %(last)s::date
     GROUP BY c.day, c.tenant_id
)
SELECT d.day, f.tenant_id, f.plan_name, f.tier, f.period, p.status, p.covered_until,
       f.revenue, f.total_operational_cost, f.monthly_profit, f.gross_margin_pct,
       f.business_health_status,
       coalesce(u.compute, 0) AS compute, coalesce(u.memory, 0) AS memory,
       coalesce(u.storage, 0) AS storage, coalesce(u.network, 0) AS network,
       coalesce(u.usage_cost, 0) AS usage_cost
  FROM days d
  JOIN tenant_cost_periods p
    ON p.period = to_char(d.day, 'YYYY-MM')
   AND (p.status = 'closed' OR p.covered_until >= ((d.day + 1)::timestamp AT TIME ZONE 'UTC'))
  JOIN tenant_period_figures f ON f.period = p.period
  LEFT JOIN usage u ON u.day = d.day AND u.tenant_id = f.tenant_id
 ORDER BY d.day, f.tenant_id;
