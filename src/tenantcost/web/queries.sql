-- Dashboard SQL: users and sessions (0008), the pages' reads over the BI rollups (0006),
-- tenant resources and their audit trail.

-- name: user_by_name
SELECT id, name, role, password_hash, token_hash, created_at, last_login_at
  FROM dashboard_users WHERE name = %(name)s;

-- name: user_delete
DELETE FROM dashboard_users WHERE name = %(name)s;

-- name: user_set_password
UPDATE dashboard_users SET password_hash = %(password_hash)s WHERE name = %(name)s RETURNING id;

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

-- name: plan_breakdown
-- Per plan: tenants, revenue, cost (the full cost), profit, margin — from the figures.
SELECT plan_name, count(*) AS tenants,
       sum(revenue) AS revenue,
       sum(total_operational_cost) AS cost,
       sum(usage_cost) AS usage_cost,
       sum(revenue) - sum(total_operational_cost) AS profit,
       CASE WHEN sum(revenue) > 0
            THEN (sum(revenue) - sum(total_operational_cost)) / sum(revenue) * 100 END AS margin_pct
  FROM tenant_period_figures
 WHERE period = %(period)s
 GROUP BY plan_name
 ORDER BY sum(revenue) DESC, plan_name;

-- name: health_counts
SELECT business_health_status, count(*) AS tenants
  FROM tenant_period_figures WHERE period = %(period)s GROUP BY business_health_status;

-- name: costliest_tenants
-- The period's costliest tenants (what `report tenant-costs --top N` lists first).
SELECT tenant_id, company_name, plan_name, total_operational_cost AS cost, revenue,
       monthly_profit AS profit, gross_margin_pct
  FROM tenant_period_figures
 WHERE period = %(period)s
 ORDER BY total_operational_cost DESC, company_name, tenant_id
 LIMIT %(limit)s;

-- name: plan_names
SELECT DISTINCT plan_name FROM tenant_period_figures WHERE period = %(period)s ORDER BY plan_name;

-- name: tenant_summary
SELECT * FROM tenant_period_figures WHERE tenant_id = %(tenant_id)s AND period = %(period)s;

-- name: tenant_history
-- The tenant's figures, month by month (its cost by driver over time).
SELECT f.period, p.status, f.revenue, f.total_operational_cost AS cost, f.monthly_profit AS profit,
       f.compute_cost, f.memory_cost, f.storage_cost, f.network_cost,
       f.infrastructure_costs + f.email_service_costs AS vps_and_ips, f.addon_cost,
       f.platform_overhead_cost
  FROM tenant_period_figures f JOIN tenant_cost_periods p ON p.period = f.period
 WHERE f.tenant_id = %(tenant_id)s
 ORDER BY f.period;

-- name: tenant_ledger
SELECT line, driver, source, fidelity, price_book, quantity, unit, unit_price, amount
  FROM tenant_cost_ledger
 WHERE tenant_id = %(tenant_id)s AND period = %(period)s
 ORDER BY amount DESC, driver, source;

-- name: company
SELECT id, name FROM companies WHERE id = %(tenant_id)s;

-- name: tenant_vps
SELECT v.id, v.name, v.status, v.approximate_cost, v.cost_source, v.cost_override,
       v.cost_updated_at, v.hostwinds_service_id, v.hostwinds_plan_id, v.billing_cycle
  FROM vps_instances v WHERE v.tenant_id = %(tenant_id)s
 ORDER BY v.status, v.name, v.id;

-- name: tenant_ips
-- The tenant's IPs: its own, and those without a tenant on its VPS. Two index lookups
-- (smtp_ip_addresses.tenant_id, vps_instances.tenant_id) instead of COALESCE(...) = tenant,
-- which no index serves (a scan of every IP, growing with the fleet).
SELECT ip.id, ip.ip_address, ip.status, ip.approximate_cost, ip.cost_source, ip.cost_override,
       ip.cost_updated_at, ip.vps_instance_id
  FROM smtp_ip_addresses ip
 WHERE ip.tenant_id = %(tenant_id)s
UNION ALL
SELECT ip.id, ip.ip_address, ip.status, ip.approximate_cost, ip.cost_source, ip.cost_override,
       ip.cost_updated_at, ip.vps_instance_id
  FROM vps_instances v
  JOIN smtp_ip_addresses ip ON ip.vps_instance_id = v.id
 WHERE v.tenant_id = %(tenant_id)s AND ip.tenant_id IS NULL
 ORDER BY status, ip_address, id;

-- name: tenant_monthly
-- Revenue received (payments) and emails sent per month, last 12 months, UTC (only those
-- months' rows are read: index-only scans of revision 0025's indexes, through 0026's views).
WITH months AS (
    SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months',
                           date_trunc('month', now() AT TIME ZONE 'UTC'),
                           interval '1 month')::date AS month
),
since AS (
    SELECT min(month)::timestamp AT TIME ZONE 'UTC' AS start FROM months
),
pay AS (
    SELECT date_trunc('month', py.billing_period_start AT TIME ZONE 'UTC')::date AS month,
           sum(py.amount) AS payments
      FROM tenantcost_tenant_payments py
     WHERE py.tenant_id = %(tenant_id)s
       AND py.billing_period_start >= (SELECT start FROM since)
     GROUP BY 1
),
mail AS (
    SELECT date_trunc('month', ba.period_start AT TIME ZONE 'UTC')::date AS month,
           sum(ba.emails_sent) AS emails_sent
      FROM tenantcost_tenant_emails ba
     WHERE ba.tenant_id = %(tenant_id)s
       AND ba.period_start >= (SELECT start FROM since)
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

-- name: relation_exists
SELECT to_regclass(%(name)s) IS NOT NULL AS present;


-- name: focus_period
SELECT * FROM tenant_cost_periods WHERE period = %(period)s;

-- name: focus_line_sums
-- The period's cost per line kind, driver and unit: the origin charges' totals for the FOCUS
-- allocation ratios and what focus.py decides per kind of line, without reading every line.
SELECT line, driver, unit, sum(amount) AS amount
  FROM tenant_cost_ledger
 WHERE period = %(period)s
 GROUP BY line, driver, unit;

-- name: focus_plans
-- The plan names of the period's figures (each JSON-encoded in Python for AllocatedTags).
SELECT DISTINCT plan_name FROM tenant_period_figures WHERE period = %(period)s;

-- name: focus_default_period
-- The latest month with ledger lines (the FOCUS export's default; NULL: none). Not a
-- subquery correlated with tenant_cost_periods: Citus refuses one over a reference table. The
-- ledger's key leads with the period, so this is one index probe (per shard on Citus).
SELECT max(l.period) AS period FROM tenant_cost_ledger l;

-- name: focus_lines
SELECT l.line, nullif(l.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_id, c.name AS company_name, f.plan_name,
       l.driver, l.source, l.fidelity,
       l.price_book, l.quantity, l.unit, l.unit_price, l.amount
  FROM tenant_cost_ledger l
  LEFT JOIN companies c ON c.id = l.tenant_id
  LEFT JOIN tenant_period_figures f ON f.period = l.period AND f.tenant_id = l.tenant_id
 WHERE l.period = %(period)s
 ORDER BY l.driver, l.line, c.name, l.tenant_id, l.source, l.price_book;

-- name: focus_export
-- The period's FOCUS rows built in PostgreSQL and streamed by COPY (focus.export_chunks): the
-- rows of the reference builder (tests/focus_reference.py) in focus_lines' order, each as its CSV cells (render_csv: 10 and 12
-- decimals, formula-safe text, blank for null) and as the text of its object in the JSON export
-- ("json": jsonable's 6 decimals). What depends only on a line's kind, driver and unit
-- (service, host, origin charge total, method, remainder; focus.export_arguments) comes in as
-- arrays indexed by the kind's position (k), so per line this only rounds, divides and formats,
-- after sorting the narrow lines. Rounding is Decimal.quantize's half even (round() is half
-- away from zero, so an exact tie on an even digit steps back); the ratio is amount / origin
-- total rounded exactly (integer quotient and remainder) to 12 decimals. The month's lines are
-- a MATERIALIZED CTE: on Citus it runs on the workers and the per-line formatting (text ||
-- numeric is only stable, which Citus does not push down) on the coordinator; on PostgreSQL
-- it is the same sort, kept in order.
WITH l AS MATERIALIZED (
      SELECT l.line, nullif(l.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_id, l.driver, l.source, l.fidelity,
             l.unit, l.quantity, l.amount,
             c.name AS company_name,
             array_position(%(plan_name)s::text[], f.plan_name) AS plan,
             array_position(%(k_key)s::text[], concat_ws('/', l.line, l.driver, l.unit)) AS kind
        FROM tenant_cost_ledger l
        LEFT JOIN companies c ON c.id = l.tenant_id
        LEFT JOIN tenant_period_figures f ON f.period = l.period AND f.tenant_id = l.tenant_id
       WHERE l.period = %(period)s
       ORDER BY l.driver, l.line, c.name, l.tenant_id, l.source, l.price_book
)
SELECT n.cost10 AS "BilledCost", n.cost10 AS "EffectiveCost", n.cost10 AS "ListCost",
       n.cost10 AS "ContractedCost", k.account_id_csv AS "BillingAccountId",
       k.account_name_csv AS "BillingAccountName", %(currency_csv)s::text AS "BillingCurrency",
       %(billing_start)s::text AS "BillingPeriodStart", %(billing_end)s::text AS "BillingPeriodEnd",
       %(billing_start)s::text AS "ChargePeriodStart", %(charge_end)s::text AS "ChargePeriodEnd",
       k.charge_csv AS "ChargeCategory", NULL::text AS "ChargeClass",
       k.describe_csv || t.described AS "ChargeDescription",
       k.host_csv AS "InvoiceIssuer", k.host_csv AS "ProviderName", k.host_csv AS "PublisherName",
       k.host_csv AS "HostProviderName", k.host_csv AS "ServiceProviderName",
       n.quantity12 AS "PricingQuantity", k.unit_csv AS "PricingUnit",
       k.category_csv AS "ServiceCategory", k.service_csv AS "ServiceName",
       k.method_csv AS "AllocatedMethodId", t.details AS "AllocatedMethodDetails",
       t.resource_id AS "AllocatedResourceId", t.resource_name_csv AS "AllocatedResourceName",
       t.tags AS "AllocatedTags", l.tenant_id::text AS "x_TenantId",
       s.company_csv AS "x_CompanyName", l.line AS "x_Line", l.driver AS "x_Driver",
       t.source_csv AS "x_Source", l.fidelity AS "x_Fidelity",
       %(provisional)s::text AS "x_Provisional",
       concat('{"BilledCost":"', n.cost6, '","EffectiveCost":"', n.cost6, '","ListCost":"',
              n.cost6, '","ContractedCost":"', n.cost6, '"', k.json_a,
              to_json(k.describe || t.described), k.json_b, n.quantity6, k.json_c,
              coalesce(to_json(t.details)::text, 'null'),
              ',"AllocatedResourceId":', coalesce('"' || t.resource_id || '"', 'null'),
              ',"AllocatedResourceName":', coalesce(to_json(t.resource_name)::text, 'null'),
              ',"AllocatedTags":', coalesce(to_json(t.tags)::text, 'null'),
              ',"x_TenantId":', coalesce('"' || l.tenant_id || '"', 'null'),
              ',"x_CompanyName":', coalesce(to_json(l.company_name)::text, 'null'),
              k.json_d, to_json(l.source), ',"x_Fidelity":"', l.fidelity, '"',
              %(json_end)s::text) AS json
  FROM l
  CROSS JOIN LATERAL (
      SELECT (%(k_unit_ascii)s::text[])[l.kind] AS unit_ascii,
             (%(k_unit_csv)s::text[])[l.kind] AS unit_csv,
             (%(k_charge_csv)s::text[])[l.kind] AS charge_csv,
             (%(k_category_csv)s::text[])[l.kind] AS category_csv,
             (%(k_service_csv)s::text[])[l.kind] AS service_csv,
             (%(k_host_csv)s::text[])[l.kind] AS host_csv,
             (%(k_account_id_csv)s::text[])[l.kind] AS account_id_csv,
             (%(k_account_name_csv)s::text[])[l.kind] AS account_name_csv,
             (%(k_describe)s::text[])[l.kind] AS describe,
             (%(k_describe_csv)s::text[])[l.kind] AS describe_csv,
             (%(k_method_csv)s::text[])[l.kind] AS method_csv,
             (%(k_origin_total)s::numeric[])[l.kind] AS origin_total,
             (%(k_remainder)s::boolean[])[l.kind] AS remainder,
             (%(k_json_a)s::text[])[l.kind] AS json_a,
             (%(k_json_b)s::text[])[l.kind] AS json_b,
             (%(k_json_c)s::text[])[l.kind] AS json_c,
             (%(k_json_d)s::text[])[l.kind] AS json_d
  ) k
  CROSS JOIN LATERAL (
      SELECT l.amount * 1000000000000 AS scaled,
             div(l.amount * 1000000000000, k.origin_total) AS quotient
  ) d
  CROSS JOIN LATERAL (
      SELECT round(l.amount, 10)
             - CASE WHEN l.amount - trunc(l.amount, 10) = 0.00000000005
                     AND mod(trunc(l.amount * 10000000000), 2) = 0
                    THEN 0.0000000001 ELSE 0 END AS cost10,
             round(l.quantity, 12)
             - sign(l.quantity)
               * CASE WHEN abs(l.quantity - trunc(l.quantity, 12)) = 0.0000000000005
                       AND mod(trunc(l.quantity * 1000000000000), 2) = 0
                      THEN 0.000000000001 ELSE 0 END AS quantity12,
             (d.quotient
              + CASE WHEN 2 * (d.scaled - d.quotient * k.origin_total) > k.origin_total
                       OR (2 * (d.scaled - d.quotient * k.origin_total) = k.origin_total
                           AND mod(d.quotient, 2) = 1)
                     THEN 1 ELSE 0 END) * 0.000000000001 AS ratio
  ) r
  CROSS JOIN LATERAL (
      SELECT r.cost10::text AS cost10, round(r.cost10, 6)::text AS cost6,
             r.quantity12::text AS quantity12, round(r.quantity12, 6)::text AS quantity6
  ) n
  CROSS JOIN LATERAL (
      SELECT CASE WHEN left(l.company_name, 1) IN ('=', '+', '-', '@', E'\t', E'\r')
                  THEN '''' || l.company_name ELSE nullif(l.company_name, '') END AS company_csv
  ) s
  CROSS JOIN LATERAL (
      SELECT CASE WHEN left(l.source, 1) IN ('=', '+', '-', '@', E'\t', E'\r')
                  THEN '''' || l.source ELSE nullif(l.source, '') END AS source_csv,
             l.line || ' (' || l.fidelity || ', ' || l.source || ')' AS described,
             CASE WHEN k.origin_total IS NOT NULL THEN
                 '{"Elements": [{"AllocatedRatio": "' || r.ratio || '", "UsageUnit": '
                 || k.unit_ascii || ', "UsageQuantity": "' || l.quantity || '"}]}' END AS details,
             CASE WHEN k.origin_total IS NOT NULL AND NOT k.remainder
                  THEN coalesce(l.tenant_id::text, 'None') END AS resource_id,
             CASE WHEN k.origin_total IS NULL THEN NULL
                  WHEN k.remainder THEN l.line ELSE l.company_name END AS resource_name,
             CASE WHEN k.origin_total IS NULL THEN NULL
                  WHEN k.remainder THEN l.line ELSE s.company_csv END AS resource_name_csv,
             CASE WHEN k.origin_total IS NOT NULL AND NOT k.remainder THEN
                 '{"tenant_id": "' || coalesce(l.tenant_id::text, 'None') || '", "plan": '
                 || coalesce((%(plan_json)s::text[])[l.plan], 'null') || '}' END AS tags
  ) t;

-- name: resource_audit_named
-- resource_audit with each row's resource named as its table shows it (VPS name, IP address);
-- the names are looked up by primary key among the given ids only.
SELECT a.changed_at, a.changed_by, a.entity, a.entity_id,
       coalesce(v.name, ip.ip_address, a.entity_id) AS resource_name,
       a.old_value, a.new_value, a.source, a.reason
  FROM cost_audit a
  LEFT JOIN vps_instances v
         ON a.entity = 'vps' AND v.id = ANY(%(vps_ids)s::uuid[]) AND v.id::text = a.entity_id
  LEFT JOIN smtp_ip_addresses ip
         ON a.entity = 'ip' AND ip.id = ANY(%(ip_ids)s::uuid[]) AND ip.id::text = a.entity_id
 WHERE (a.entity = 'vps' AND a.entity_id = ANY(%(vps_ids)s::text[]))
    OR (a.entity = 'ip' AND a.entity_id = ANY(%(ip_ids)s::text[]))
 ORDER BY a.changed_at DESC, a.id DESC
 LIMIT %(limit)s;

-- name: tenant_usage_monthly
-- The tenant's usage per UTC month (the 12 months up to the page's month, default the current
-- one), best source per tenant-hour and metric (as tenant_resource_usage): queries, CPU
-- seconds, storage GB at the month's last sampled hour, egress GB (decimal GB); with the
-- month's figures status when it has been attributed. Days rolled up into daily evidence
-- (revision 0020) count with the best source per day, their storage at the day's last hour.
WITH bounds AS (
    SELECT coalesce((%(period)s::text || '-01 00:00+00')::timestamptz,
                    date_trunc('month', now(), 'UTC')) AS month_start
), chosen AS (
    SELECT DISTINCT ON (u.hour, u.metric, CASE WHEN u.metric = 'storage_bytes' THEN u.source END)
           u.hour, u.metric, u.quantity
      FROM tenant_usage_hourly u
      JOIN telemetry_metrics m USING (metric, source)
      CROSS JOIN bounds b
     WHERE u.tenant_id = %(tenant_id)s
       AND u.metric IN ('query_count', 'compute_seconds', 'storage_bytes', 'egress_bytes')
       AND u.hour >= b.month_start - interval '11 months'
       AND u.hour < b.month_start + interval '1 month'
     ORDER BY u.hour, u.metric, CASE WHEN u.metric = 'storage_bytes' THEN u.source END, m.priority
), chosen_days AS (
    SELECT DISTINCT ON (d.day, d.metric, CASE WHEN d.metric = 'storage_bytes' THEN d.source END)
           (d.day + make_interval(hours => d.last_hour)) AT TIME ZONE 'UTC' AS hour, d.metric,
           CASE WHEN d.metric = 'storage_bytes' THEN d.last_quantity ELSE d.quantity END
             AS quantity
      FROM tenant_usage_daily d
      JOIN telemetry_metrics m USING (metric, source)
      CROSS JOIN bounds b
     WHERE d.tenant_id = %(tenant_id)s
       AND d.metric IN ('query_count', 'compute_seconds', 'storage_bytes', 'egress_bytes')
       AND d.day >= ((b.month_start - interval '11 months') AT TIME ZONE 'UTC')::date
       AND d.day < ((b.month_start + interval '1 month') AT TIME ZONE 'UTC')::date
       AND NOT EXISTS (SELECT 1 FROM tenant_usage_hourly u
                        WHERE u.tenant_id = d.tenant_id AND u.source = d.source
                          AND u.hour >= d.day::timestamp AT TIME ZONE 'UTC'
                          AND u.hour < (d.day + 1)::timestamp AT TIME ZONE 'UTC')
     ORDER BY d.day, d.metric, CASE WHEN d.metric = 'storage_bytes' THEN d.source END, m.priority
), monthly AS (
    SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM') AS period, metric, hour, quantity
      FROM (SELECT * FROM chosen UNION ALL SELECT * FROM chosen_days) c
), storage_last AS (
    SELECT period, max(hour) AS last_hour FROM monthly WHERE metric = 'storage_bytes'
     GROUP BY period
)
SELECT m.period, p.status,
       coalesce(sum(m.quantity) FILTER (WHERE m.metric = 'query_count'), 0) AS queries,
       coalesce(sum(m.quantity) FILTER (WHERE m.metric = 'compute_seconds'), 0) AS cpu_seconds,
       coalesce(sum(m.quantity) FILTER (WHERE m.metric = 'storage_bytes'
                                          AND m.hour = s.last_hour), 0) / 1e9 AS storage_gb,
       coalesce(sum(m.quantity) FILTER (WHERE m.metric = 'egress_bytes'), 0) / 1e9 AS egress_gb
  FROM monthly m
  LEFT JOIN storage_last s USING (period)
  LEFT JOIN tenant_cost_periods p ON p.period = m.period
 GROUP BY m.period, p.status
 ORDER BY m.period;

-- name: tenant_decisions
-- The tenant's tier signals, newest first, with their evidence.
SELECT d.tier, d.to_level AS signal, d.from_level, d.ceiling, d.figure, d.ceiling_value,
       round(d.ratio * 100, 1) AS pct_of_ceiling, d.episode_since, d.hour, d.ended_at
  FROM tier_decisions d
 WHERE d.tenant_id = %(tenant_id)s
 ORDER BY d.hour DESC
 LIMIT %(limit)s;

-- name: tenant_alerts
-- Alert episodes about this tenant (outlier, cost jump: the subject is its id), newest first.
SELECT kind, message, details, opened_at, last_seen_at, closed_at
  FROM tier_alerts
 WHERE subject = %(tenant_id)s::text
 ORDER BY opened_at DESC
 LIMIT %(limit)s;

-- name: replay_plans
-- The operator's plans that have figures, with today's list price and tenants in the latest
-- month (the what-if page's "our own plans" picker).
SELECT f.plan_name, max(pl.price_monthly) AS list_price,
       count(*) FILTER (WHERE f.period = (SELECT tenantcost_latest_period())) AS tenants
  FROM tenant_period_figures f
  LEFT JOIN plans pl ON pl.name = f.plan_name
 GROUP BY f.plan_name
 ORDER BY f.plan_name;

-- name: replay_history
-- Every month's figures of the tenants that were on a plan then: subscription and add-on
-- revenue and the full cost as measured, the plan's list price, the month's covered share
-- (accrual) and the tenant's discount factor (annual pre-pay, then multi-project, as in
-- tenant_monthly_revenue) — what a repricing replay needs, and nothing recomputed.
WITH discount AS (
    SELECT coalesce(max(value::numeric) FILTER (WHERE key = 'annual_prepay_discount_pct'), 0) AS annual,
           coalesce(max(value::numeric) FILTER (WHERE key = 'multi_project_discount_pct'), 0) AS multi
      FROM cost_settings
), terms AS (
    SELECT s.tenant_id, bool_or(st.annual_prepay) AS annual_prepay,
           bool_or(st.multi_project) AS multi_project
      FROM subscriptions s
      JOIN subscription_terms st ON st.subscription_id = s.id
     WHERE s.status = 'active'
     GROUP BY s.tenant_id
), price AS (
    SELECT name, max(price_monthly) AS list_price FROM plans GROUP BY name
)
SELECT f.period, p.status, f.tenant_id, f.subscription_revenue, f.addon_revenue,
       f.total_operational_cost AS cost, coalesce(pr.list_price, 0) AS list_price,
       extract(epoch FROM p.covered_until - p.period_start)
         / extract(epoch FROM p.period_end - p.period_start) AS fraction,
       (1 - CASE WHEN t.annual_prepay THEN d.annual / 100 ELSE 0 END)
         * (1 - CASE WHEN t.multi_project THEN d.multi / 100 ELSE 0 END) AS discount_factor
  FROM tenant_period_figures f
  JOIN tenant_cost_periods p ON p.period = f.period
  LEFT JOIN price pr ON pr.name = f.plan_name
  LEFT JOIN terms t ON t.tenant_id = f.tenant_id
  CROSS JOIN discount d
 WHERE f.plan_name = %(plan)s
 ORDER BY f.period, f.tenant_id;

-- name: month_totals
-- A month's revenue (the tenants' figures) against its whole cost (every ledger line, the
-- lines no tenant carries included): the overview's margin and its trend, one definition.
SELECT (SELECT coalesce(sum(revenue), 0) FROM tenant_period_figures
         WHERE period = %(period)s) AS revenue,
       (SELECT total FROM tenant_cost_periods WHERE period = %(period)s) AS cost;
