-- Dashboard SQL: users and sessions (0008), the pages' reads over the BI rollups (0006),
-- tenant resources and their audit trail.

-- name: user_insert
INSERT INTO dashboard_users (name, role, password_hash, token_hash)
VALUES (%(name)s, %(role)s, %(password_hash)s, %(token_hash)s)
RETURNING id;

-- name: user_by_name
SELECT id, name, role, password_hash, token_hash, created_at, last_login_at
  FROM dashboard_users WHERE name = %(name)s;

-- name: user_by_token
SELECT id, name, role FROM dashboard_users WHERE token_hash = %(token_hash)s;

-- name: users_list
SELECT u.name, u.role, u.password_hash IS NOT NULL AS has_password,
       u.token_hash IS NOT NULL AS has_token, u.created_at, u.created_by, u.last_login_at,
       (SELECT count(*) FROM dashboard_sessions s
         WHERE s.user_id = u.id AND s.expires_at > now()) AS active_sessions
  FROM dashboard_users u ORDER BY u.name;

-- name: user_delete
DELETE FROM dashboard_users WHERE name = %(name)s;

-- name: user_set_password
UPDATE dashboard_users SET password_hash = %(password_hash)s WHERE name = %(name)s RETURNING id;

-- name: user_set_token
UPDATE dashboard_users SET token_hash = %(token_hash)s WHERE name = %(name)s RETURNING id;

-- name: user_set_role
UPDATE dashboard_users SET role = %(role)s WHERE name = %(name)s RETURNING id;

-- name: user_logged_in
UPDATE dashboard_users SET last_login_at = now() WHERE id = %(id)s;

-- name: sessions_end_for_user
DELETE FROM dashboard_sessions WHERE user_id = %(user_id)s;

-- name: session_insert
INSERT INTO dashboard_sessions (id_hash, user_id, csrf_token, expires_at)
VALUES (%(id_hash)s, %(user_id)s, %(csrf_token)s, now() + make_interval(secs => %(seconds)s));

-- name: session_user
SELECT u.id, u.name, u.role, s.csrf_token
  FROM dashboard_sessions s JOIN dashboard_users u ON u.id = s.user_id
 WHERE s.id_hash = %(id_hash)s AND s.expires_at > now();

-- name: session_delete
DELETE FROM dashboard_sessions WHERE id_hash = %(id_hash)s;

-- name: sessions_expired_delete
DELETE FROM dashboard_sessions WHERE expires_at <= now();

-- name: secret_get
SELECT secret FROM dashboard_secret WHERE id = 1;

-- name: secret_init
INSERT INTO dashboard_secret (id, secret) VALUES (1, %(secret)s) ON CONFLICT (id) DO NOTHING;

-- name: rollup_freshness
SELECT max(refreshed_at) AS refreshed_at, count(*) AS tenants,
       max(allocation_rule) AS allocation_rule,
       tenantcost_shared_cost_allocation() AS current_rule
  FROM executive_business_rollup;

-- name: plan_breakdown
-- Per plan: tenants, monthly revenue, cost (own + allocated shared), margin.
SELECT plan_name, count(*) AS tenants,
       sum(monthly_subscription_revenue) AS revenue,
       sum(total_operational_cost) AS cost,
       sum(infrastructure_costs) AS infrastructure_cost,
       sum(email_service_costs) AS email_service_cost,
       sum(monthly_subscription_revenue) - sum(total_operational_cost) AS profit,
       CASE WHEN sum(monthly_subscription_revenue) > 0
            THEN round((sum(monthly_subscription_revenue) - sum(total_operational_cost))
                       / sum(monthly_subscription_revenue) * 100, 1) END AS margin_pct
  FROM executive_business_rollup
 GROUP BY plan_name
 ORDER BY sum(monthly_subscription_revenue) DESC, plan_name;

-- name: shared_lines
SELECT line, tenant_id, company_name, infrastructure_cost, email_service_cost, total_cost,
       allocation_rule
  FROM shared_cost_rollup
 ORDER BY line = 'shared_unallocated' DESC, total_cost DESC, company_name;

-- name: cost_drivers_fixed
-- Fixed monthly costs by source (tenants' own + allocated, then what nobody is charged).
SELECT (SELECT COALESCE(sum(infrastructure_costs), 0) FROM executive_business_rollup)
         + (SELECT COALESCE(sum(infrastructure_cost), 0) FROM shared_cost_rollup) AS vps,
       (SELECT COALESCE(sum(email_service_costs), 0) FROM executive_business_rollup)
         + (SELECT COALESCE(sum(email_service_cost), 0) FROM shared_cost_rollup) AS ips;

-- name: health_counts
SELECT business_health_status, count(*) AS tenants
  FROM executive_business_rollup GROUP BY business_health_status;

-- name: top_cost_tenants
-- Tenants whose cost is furthest above their plan's average (the seed's "need upgrade").
WITH r AS (
    SELECT tenant_id, company_name, plan_name, total_operational_cost AS cost,
           monthly_subscription_revenue AS revenue,
           avg(total_operational_cost) OVER (PARTITION BY plan_name) AS plan_avg_cost
      FROM executive_business_rollup
)
SELECT tenant_id, company_name, plan_name, cost, revenue, round(plan_avg_cost, 2) AS plan_avg_cost,
       round((cost - plan_avg_cost) / plan_avg_cost * 100, 0) AS pct_over_plan_avg
  FROM r
 WHERE plan_avg_cost > 0 AND cost > plan_avg_cost * 1.5
 ORDER BY (cost - plan_avg_cost) / plan_avg_cost DESC, cost DESC, company_name
 LIMIT %(limit)s;

-- name: plan_names
SELECT DISTINCT plan_name FROM executive_business_rollup ORDER BY plan_name;

-- name: tenant_summary
SELECT * FROM executive_business_rollup WHERE tenant_id = %(tenant_id)s;

-- name: company
SELECT id, name FROM companies WHERE id = %(tenant_id)s;

-- name: tenant_vps
SELECT v.id, v.name, v.status, v.approximate_cost, v.cost_source, v.cost_override,
       v.cost_updated_at, v.hostwinds_service_id, v.hostwinds_plan_id, v.billing_cycle
  FROM vps_instances v WHERE v.tenant_id = %(tenant_id)s
 ORDER BY v.status, v.name, v.id;

-- name: tenant_ips
SELECT ip.id, ip.ip_address, ip.status, ip.approximate_cost, ip.cost_source, ip.cost_override,
       ip.cost_updated_at, ip.vps_instance_id
  FROM smtp_ip_addresses ip
  LEFT JOIN vps_instances v ON v.id = ip.vps_instance_id
 WHERE COALESCE(ip.tenant_id, v.tenant_id) = %(tenant_id)s
 ORDER BY ip.status, ip.ip_address, ip.id;

-- name: resource_audit
SELECT changed_at, changed_by, entity, entity_id, old_value, new_value, source, reason
  FROM cost_audit
 WHERE (entity = 'vps' AND entity_id = ANY(%(vps_ids)s))
    OR (entity = 'ip' AND entity_id = ANY(%(ip_ids)s))
 ORDER BY changed_at DESC, id DESC
 LIMIT %(limit)s;

-- name: tenant_monthly
-- Revenue received (payments) and emails sent per month, last 12 months, UTC.
WITH months AS (
    SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months',
                           date_trunc('month', now() AT TIME ZONE 'UTC'),
                           interval '1 month')::date AS month
),
pay AS (
    SELECT date_trunc('month', py.billing_period_start AT TIME ZONE 'UTC')::date AS month,
           sum(py.amount) AS payments
      FROM payments py JOIN subscriptions s ON s.id = py.subscription_id
     WHERE s.tenant_id = %(tenant_id)s
     GROUP BY 1
),
mail AS (
    SELECT date_trunc('month', ba.period_start AT TIME ZONE 'UTC')::date AS month,
           sum(ba.emails_sent) AS emails_sent
      FROM billing_analytics ba JOIN subscriptions s ON s.id = ba.subscription_id
     WHERE s.tenant_id = %(tenant_id)s
     GROUP BY 1
)
SELECT m.month, COALESCE(p.payments, 0.00) AS payments, COALESCE(e.emails_sent, 0) AS emails_sent
  FROM months m LEFT JOIN pay p USING (month) LEFT JOIN mail e USING (month)
 ORDER BY m.month;

-- name: setting_audit
SELECT changed_at, changed_by, entity_id AS setting, old_value, new_value, source, reason
  FROM cost_audit WHERE entity = 'setting'
 ORDER BY changed_at DESC, id DESC
 LIMIT %(limit)s;

-- name: ip_reprice_count
SELECT count(*) AS n FROM cost_audit WHERE entity = 'ip' AND source = 'setting';

-- name: snapshot_upsert
-- Today's per-plan figures (and the cost charged to nobody as plan '(unallocated)').
INSERT INTO dashboard_snapshots (day, plan_name, tenants, revenue, cost)
SELECT (now() AT TIME ZONE 'UTC')::date, plan_name, count(*),
       sum(monthly_subscription_revenue), sum(total_operational_cost)
  FROM executive_business_rollup GROUP BY plan_name
UNION ALL
SELECT (now() AT TIME ZONE 'UTC')::date, '(unallocated)', 0, 0.00,
       COALESCE(sum(total_cost), 0.00)
  FROM shared_cost_rollup
ON CONFLICT (day, plan_name) DO UPDATE
   SET tenants = EXCLUDED.tenants, revenue = EXCLUDED.revenue, cost = EXCLUDED.cost,
       taken_at = now();

-- name: snapshot_before
-- The latest snapshot day on or before the given day, with its totals.
SELECT day, sum(revenue) AS revenue, sum(cost) AS cost
  FROM dashboard_snapshots
 WHERE day = (SELECT max(day) FROM dashboard_snapshots WHERE day <= %(day)s)
 GROUP BY day;

-- name: relation_exists
SELECT to_regclass(%(name)s) IS NOT NULL AS present;

-- name: ledger_month_drivers
-- This month's bottom-up ledger by usage driver: the monthly period's lines when it has been
-- attributed, else the sum of its hourly periods (never both, so nothing counts twice).
-- VPS and IPs come from the rollups; idle (unattributed) lines are shown as overhead.
WITH m AS (SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM') AS month),
monthly AS (
    SELECT l.line, l.driver, l.amount FROM tenant_cost_ledger l, m
     WHERE l.mode = 'bottom_up' AND l.period = m.month
),
hourly AS (
    SELECT l.line, l.driver, l.amount FROM tenant_cost_ledger l, m
     WHERE l.mode = 'bottom_up' AND l.period LIKE m.month || '-%'
       AND NOT EXISTS (SELECT 1 FROM monthly)
)
SELECT CASE WHEN line = 'idle' THEN 'overhead' ELSE driver END AS driver, sum(amount) AS amount
  FROM (SELECT * FROM monthly UNION ALL SELECT * FROM hourly) l
 WHERE line = 'idle' OR driver IN ('compute', 'memory', 'storage', 'network')
 GROUP BY 1;

-- name: ledger_tenant_months
-- One tenant's bottom-up ledger cost per month and driver (monthly periods where attributed,
-- else the month's hourly periods).
WITH lines AS (
    SELECT left(l.period, 7) AS month, length(l.period) = 7 AS monthly, l.driver, l.amount
      FROM tenant_cost_ledger l
     WHERE l.mode = 'bottom_up' AND l.tenant_id = %(tenant_id)s
),
chosen AS (
    SELECT * FROM lines x
     WHERE x.monthly
        OR NOT EXISTS (SELECT 1 FROM lines y WHERE y.month = x.month AND y.monthly)
)
SELECT to_date(month, 'YYYY-MM') AS month, driver, sum(amount) AS amount
  FROM chosen GROUP BY month, driver ORDER BY month, driver;

-- name: ledger_focus_lines
-- A month's bottom-up ledger lines for the FOCUS export (monthly period if attributed, else
-- its hourly periods).
WITH monthly AS (
    SELECT * FROM tenant_cost_ledger l
     WHERE l.mode = 'bottom_up' AND l.period = %(month)s
),
hourly AS (
    SELECT * FROM tenant_cost_ledger l
     WHERE l.mode = 'bottom_up' AND l.period LIKE %(month)s || '-%%'
       AND NOT EXISTS (SELECT 1 FROM monthly)
)
SELECT l.period_start, l.period_end, l.line, l.tenant_id, c.name AS company_name, l.driver,
       l.quantity, l.unit, l.unit_price, l.amount, l.price_book, l.currency
  FROM (SELECT * FROM monthly UNION ALL SELECT * FROM hourly) l
  LEFT JOIN companies c ON c.id = l.tenant_id
 ORDER BY l.period_start, c.name, l.tenant_id, l.driver;
