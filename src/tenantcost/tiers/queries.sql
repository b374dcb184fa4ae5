-- name: tiers
SELECT t.name, t.monthly_price, t.cost_ceiling, t.storage_gb_ceiling,
       t.requests_per_hour_ceiling, t.latency_target_ms, t.margin_floor_pct,
       coalesce(string_agg(p.name, ', ' ORDER BY p.name), '') AS plans
  FROM tiers t
  LEFT JOIN plan_tiers pt ON pt.tier = t.name
  LEFT JOIN plans p ON p.id = pt.plan_id
 GROUP BY t.name
 ORDER BY t.monthly_price, t.name;

-- name: tier_upsert
INSERT INTO tiers (name, monthly_price, cost_ceiling, storage_gb_ceiling,
                   requests_per_hour_ceiling, latency_target_ms, margin_floor_pct)
VALUES (%(name)s, %(monthly_price)s, %(cost_ceiling)s, %(storage_gb_ceiling)s,
        %(requests_per_hour_ceiling)s, %(latency_target_ms)s, %(margin_floor_pct)s)
ON CONFLICT (name) DO UPDATE
   SET monthly_price = EXCLUDED.monthly_price, cost_ceiling = EXCLUDED.cost_ceiling,
       storage_gb_ceiling = EXCLUDED.storage_gb_ceiling,
       requests_per_hour_ceiling = EXCLUDED.requests_per_hour_ceiling,
       latency_target_ms = EXCLUDED.latency_target_ms,
       margin_floor_pct = EXCLUDED.margin_floor_pct,
       -- the defaults, now() and current_user, as proposed for the insert (Citus accepts no
       -- non-immutable function in DO UPDATE SET once tiers is a Citus table)
       updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by;

-- name: tier_get
SELECT * FROM tiers WHERE name = %(name)s;

-- name: plan_by_name
SELECT p.id, p.name, pt.tier
  FROM plans p LEFT JOIN plan_tiers pt ON pt.plan_id = p.id
 WHERE p.name = %(plan)s OR p.id::text = %(plan)s;

-- name: link_plan
INSERT INTO plan_tiers (plan_id, tier) VALUES (%(plan_id)s, %(tier)s)
ON CONFLICT (plan_id) DO UPDATE SET tier = EXCLUDED.tier;

-- name: decisions
SELECT d.tenant_id, c.name AS company_name, d.tier, d.to_level AS signal, d.from_level,
       d.ceiling, round(d.figure, 4) AS figure, d.ceiling_value, round(d.ratio * 100, 1) AS pct_of_ceiling,
       d.episode_since, d.hour, d.ended_at, d.delivery
  FROM tier_decisions d
  LEFT JOIN companies c ON c.id = d.tenant_id
 WHERE NOT %(active)s OR (d.ended_at IS NULL AND d.to_level <> 'normal')
 ORDER BY d.hour DESC, d.tenant_id
 LIMIT %(limit)s;

-- name: alerts
SELECT kind, subject, message, opened_at, last_seen_at, closed_at, delivery
  FROM tier_alerts
 WHERE NOT %(open_only)s OR closed_at IS NULL
 ORDER BY opened_at DESC
 LIMIT %(limit)s;

-- name: free_abuse
-- FREE tenants sharing an email domain or a signup IP, with their combined cost in the latest
-- month's figures.
WITH free AS (
    SELECT s.tenant_id
      FROM subscriptions s
      JOIN plan_tiers pt ON pt.plan_id = s.plan_id
     WHERE s.status = 'active' AND pt.tier = 'FREE'
), grouped AS (
    SELECT 'email_domain' AS signal, su.email_domain AS shared_value, su.tenant_id
      FROM tenant_signups su JOIN free USING (tenant_id)
    UNION ALL
    SELECT 'signup_ip', host(su.signup_ip), su.tenant_id
      FROM tenant_signups su JOIN free USING (tenant_id)
     WHERE su.signup_ip IS NOT NULL
), cost AS (
    SELECT tenant_id, total_operational_cost AS cost
      FROM tenant_period_figures
     WHERE period = (SELECT tenantcost_latest_period())
)
SELECT g.signal, g.shared_value, count(*) AS tenants,
       coalesce(sum(c.cost), 0) AS combined_cost,
       array_agg(g.tenant_id ORDER BY g.tenant_id) AS tenant_ids
  FROM grouped g
  LEFT JOIN cost c USING (tenant_id)
 GROUP BY g.signal, g.shared_value
HAVING count(*) >= %(threshold)s
 ORDER BY count(*) DESC, g.signal, g.shared_value;

-- name: tier_states
SELECT * FROM tier_state;

-- name: tenant_hours
-- Every active, tiered tenant with its use in the hour (zero when it used nothing).
SELECT r.tenant_id, r.tier,
       coalesce(h.cost, 0) AS cost,
       h.storage_gb,
       coalesce(h.requests, 0)::int AS requests,
       t.cost_ceiling, t.storage_gb_ceiling, t.requests_per_hour_ceiling
  FROM tenant_monthly_revenue r
  JOIN tiers t ON t.name = r.tier
  LEFT JOIN tenant_hourly_cost h ON h.tenant_id = r.tenant_id AND h.hour = %(hour)s
 ORDER BY r.tenant_id;

-- name: tier_states_upsert
-- Every evaluated tenant's new state in one statement (parallel arrays, one per column).
INSERT INTO tier_state (tenant_id, level, hours_over, hours_calling_lower, episode_since, since,
                        last_hour)
SELECT * FROM unnest(%(tenant_id)s::uuid[], %(level)s::text[], %(hours_over)s::integer[],
                     %(hours_calling_lower)s::integer[], %(episode_since)s::timestamptz[],
                     %(since)s::timestamptz[], %(last_hour)s::timestamptz[])
ON CONFLICT (tenant_id) DO UPDATE
   SET level = EXCLUDED.level, hours_over = EXCLUDED.hours_over,
       hours_calling_lower = EXCLUDED.hours_calling_lower,
       episode_since = EXCLUDED.episode_since, since = EXCLUDED.since,
       last_hour = EXCLUDED.last_hour;

-- name: end_active_decision
UPDATE tier_decisions SET ended_at = %(hour)s
 WHERE tenant_id = %(tenant_id)s AND ended_at IS NULL;

-- name: decision_insert
INSERT INTO tier_decisions (tenant_id, tier, hour, from_level, to_level, ceiling, figure,
                            ceiling_value, ratio, episode_since)
VALUES (%(tenant_id)s, %(tier)s, %(hour)s, %(from_level)s, %(to_level)s, %(ceiling)s,
        %(figure)s, %(ceiling_value)s, %(ratio)s, %(episode_since)s)
ON CONFLICT (tenant_id, hour) DO NOTHING
RETURNING id;

-- name: setting
SELECT value FROM cost_settings WHERE key = %(key)s;

-- name: tenant_30d_costs
-- Per tiered tenant, the figures of the evaluated hour's month (the one cost model): revenue
-- (plan after discounts + add-ons), add-on cost, the rest of its cost, and its plan's price
-- accrued like revenue. Tier margins, tier outliers and plans above price are all worked out
-- from these rows in Python (tiers.evaluate), so the figures are read once.
WITH period AS (
    SELECT p.period,
           extract(epoch FROM p.covered_until - p.period_start)
             / extract(epoch FROM p.period_end - p.period_start) AS fraction
      FROM tenant_cost_periods p
     WHERE p.period = to_char(%(hour)s AT TIME ZONE 'UTC', 'YYYY-MM')
), plan_price AS (
    SELECT s.tenant_id, sum(p.price_monthly) AS price
      FROM subscriptions s JOIN plans p ON p.id = s.plan_id
     WHERE s.status = 'active'
     GROUP BY s.tenant_id
)
SELECT f.tenant_id, f.company_name, t.name AS tier, t.margin_floor_pct, f.plan_name,
       round(coalesce(pp.price, 0) * pe.fraction, 12) AS plan_price, f.revenue,
       f.addon_cost, f.total_operational_cost - f.addon_cost AS usage_cost
  FROM tenant_period_figures f
  JOIN period pe ON pe.period = f.period
  JOIN tiers t ON t.name = f.tier
  LEFT JOIN plan_price pp ON pp.tenant_id = f.tenant_id
 ORDER BY t.name, f.tenant_id;

-- name: hourly_cost_baseline
-- Per tenant with a cost in the evaluated hour: that cost, and the size, median and median
-- absolute deviation (MAD) of its hourly costs in the 7 days before (the cost-jump baseline).
-- Exact in numeric, like statistics.median: the middle value, or the mean of the two middle
-- values (x 0.5, which never rounds), of each ordered set. Reads tenant_cost_hourly by its
-- hour index for the window only.
WITH cur AS (
    SELECT tenant_id, cost FROM tenant_cost_hourly WHERE hour = %(hour)s
), hist AS (
    SELECT h.tenant_id, h.cost,
           row_number() OVER (PARTITION BY h.tenant_id ORDER BY h.cost) AS rn,
           count(*) OVER (PARTITION BY h.tenant_id) AS n
      FROM tenant_cost_hourly h
     WHERE h.hour > %(since)s AND h.hour < %(hour)s
       AND h.tenant_id IN (SELECT tenant_id FROM cur)
), mid AS (
    SELECT tenant_id, n,
           CASE WHEN n %% 2 = 1 THEN min(cost) ELSE sum(cost) * 0.5 END AS median
      FROM hist
     WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
     GROUP BY tenant_id, n
), dev AS (
    SELECT h.tenant_id, m.n, abs(h.cost - m.median) AS d,
           row_number() OVER (PARTITION BY h.tenant_id ORDER BY abs(h.cost - m.median)) AS rn
      FROM hist h JOIN mid m USING (tenant_id)
), mad AS (
    SELECT tenant_id, CASE WHEN n %% 2 = 1 THEN min(d) ELSE sum(d) * 0.5 END AS mad
      FROM dev
     WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
     GROUP BY tenant_id, n
)
SELECT c.tenant_id, c.cost, coalesce(m.n, 0)::int AS hours, m.median, d.mad
  FROM cur c
  LEFT JOIN mid m USING (tenant_id)
  LEFT JOIN mad d USING (tenant_id)
 ORDER BY c.tenant_id;

-- name: alert_open
-- Opens an alert unless one is open for (kind, subject); either way records it was seen.
WITH opened AS (
    INSERT INTO tier_alerts (kind, subject, opened_at, last_seen_at, message, details)
    VALUES (%(kind)s, %(subject)s, %(hour)s, %(hour)s, %(message)s, %(details)s)
    ON CONFLICT (kind, subject) WHERE closed_at IS NULL DO NOTHING
    RETURNING id
), seen AS (
    UPDATE tier_alerts SET last_seen_at = %(hour)s
     WHERE kind = %(kind)s AND subject = %(subject)s AND closed_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM opened)
    RETURNING id
)
SELECT id, true AS opened FROM opened
UNION ALL
SELECT id, false FROM seen;

-- name: alerts_close
UPDATE tier_alerts SET closed_at = %(hour)s
 WHERE closed_at IS NULL
   AND opened_at <= %(hour)s
   AND kind || chr(31) || subject <> ALL (%(keys)s::text[]);
