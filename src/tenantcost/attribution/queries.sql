-- The cost model (migration 0010): pricing into hourly and daily tables, the monthly ledger,
-- its periods and the per-tenant figures. Parameters are always bound.

-- name: hourly_delete
DELETE FROM tenant_cost_hourly WHERE hour >= %(start)s AND hour < %(end)s;

-- name: hourly_insert
-- Each hour's usage cost per tenant at list prices, with its storage (GB) and queries.
WITH priced AS (
    SELECT * FROM tenantcost_priced_usage(%(start)s, %(end)s, 'hour', %(provider)s,
                                          %(memory_mb)s, %(books)s::text[])
     WHERE line = 'tenant' AND amount IS NOT NULL
), cost AS (
    SELECT tenant_id, at AS hour,
           sum(amount) FILTER (WHERE driver = 'compute') AS compute,
           sum(amount) FILTER (WHERE driver = 'memory') AS memory,
           sum(amount) FILTER (WHERE driver = 'storage') AS storage,
           sum(amount) FILTER (WHERE driver = 'network') AS network,
           sum(amount) AS cost, min(price_book) AS price_book
      FROM priced GROUP BY tenant_id, at
), evidence AS (
    SELECT u.tenant_id, u.hour, u.metric, u.quantity,
           rank() OVER (PARTITION BY u.tenant_id, u.hour, u.metric
                        ORDER BY m.priority, u.source) AS r
      FROM tenant_usage_hourly u JOIN telemetry_metrics m USING (metric, source)
     WHERE u.hour >= %(start)s AND u.hour < %(end)s
       AND u.tenant_id <> '00000000-0000-0000-0000-000000000000'::uuid  -- no tenant (revision 0027)
       AND u.metric IN ('storage_bytes', 'query_count')
), used AS (
    SELECT tenant_id, hour,
           sum(quantity) FILTER (WHERE metric = 'storage_bytes') / 1000000000 AS storage_gb,
           sum(quantity) FILTER (WHERE metric = 'query_count' AND r = 1) AS requests
      FROM evidence GROUP BY tenant_id, hour
)
INSERT INTO tenant_cost_hourly (tenant_id, hour, compute, memory, storage, network, cost,
                                storage_gb, requests, price_book)
SELECT coalesce(c.tenant_id, u.tenant_id), coalesce(c.hour, u.hour), coalesce(c.compute, 0),
       coalesce(c.memory, 0), coalesce(c.storage, 0), coalesce(c.network, 0),
       coalesce(c.cost, 0), u.storage_gb, coalesce(u.requests, 0)::bigint, c.price_book
  FROM cost c FULL JOIN used u ON u.tenant_id = c.tenant_id AND u.hour = c.hour;

-- name: hourly_retention
DELETE FROM tenant_cost_hourly WHERE hour < %(before)s;

-- name: unpriced_hours
-- Hours with priced metrics but no price book in force (they are left out, and said so): the
-- hours before the earliest usable book, so no second pricing pass is needed to find them.
WITH first_book AS (
    SELECT min(b.effective_from) AS effective_from
      FROM price_books b
     WHERE b.provider = %(provider)s AND b.name = ANY (%(books)s::text[])
)
SELECT count(DISTINCT u.hour) AS hours
  FROM tenant_usage_hourly u
  JOIN telemetry_metrics m USING (metric, source)
 WHERE u.hour >= %(start)s AND u.hour < %(end)s
   AND u.hour < coalesce((SELECT effective_from FROM first_book), 'infinity')
   AND u.metric IN ('compute_seconds', 'connection_seconds', 'storage_bytes',
                    'egress_bytes', 'background_cpu_seconds');

-- name: pricing_digest
-- What pricing a day depends on besides its evidence: provider, memory model, the books.
SELECT md5(%(provider)s || '|' || %(memory_mb)s::text || '|'
           || coalesce(string_agg(b.name || '@' || b.effective_from::text || ':'
                                  || b.document::text, ',' ORDER BY b.name), '')) AS digest
  FROM price_books b
 WHERE b.provider = %(provider)s AND b.name = ANY (%(books)s::text[]);

-- name: changed_days_clear
DELETE FROM tenant_usage_changed_days WHERE day >= %(first)s AND day <= %(last)s;

-- name: days_priced
INSERT INTO tenant_cost_days (day, priced_at, pricing)
SELECT d::date, now(), %(pricing)s
  FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d
ON CONFLICT (day) DO UPDATE SET priced_at = EXCLUDED.priced_at, pricing = EXCLUDED.pricing;

-- name: days_to_price
-- The candidate UTC days of a window to re-price, from the day tables: evidence changed since
-- they were priced (or never priced: new evidence marks its day) unless rolled up, or priced
-- with other inputs. Whether a rolled-up or other-inputs day still holds hourly evidence is
-- asked per day (day_has_hourly; days_to_price in ledger.py): a day whose evidence retention
-- dropped or rolled up keeps the cost it was priced to. (Citus cannot correlate a subquery on
-- the distributed evidence with these coordinator tables.)
SELECT c.day, 'changed' AS why,
       EXISTS (SELECT 1 FROM tenant_usage_rolled_days r WHERE r.day = c.day) AS rolled
  FROM tenant_usage_changed_days c
 WHERE c.day >= %(first)s AND c.day <= %(last)s
UNION ALL
SELECT d.day, 'inputs', NULL
  FROM tenant_cost_days d
 WHERE d.day >= %(first)s AND d.day <= %(last)s AND d.pricing <> %(pricing)s
 ORDER BY 1;

-- name: day_has_hourly
-- Whether the UTC day holds hourly evidence (an index probe; on Citus one per shard).
SELECT EXISTS (SELECT 1 FROM tenant_usage_hourly u
                WHERE u.hour >= %(day)s::date::timestamp AT TIME ZONE 'UTC'
                  AND u.hour < (%(day)s::date + 1)::timestamp AT TIME ZONE 'UTC') AS found;

-- name: rolled_days_kept
-- Days of a window whose hourly evidence was rolled up (revision 0020) and that were priced
-- with other inputs than now; those without hourly evidence (day_has_hourly) keep that cost
-- (no hours left to re-price them from).
SELECT r.day
  FROM tenant_usage_rolled_days r
  JOIN tenant_cost_days d ON d.day = r.day
 WHERE r.day >= %(first)s AND r.day <= %(last)s AND d.pricing <> %(pricing)s
 ORDER BY r.day;

-- name: pricing_work_mem
-- For the pricing transaction only: a day's evidence sorted and ranked in memory.
SELECT set_config('work_mem', %(work_mem)s, true);

-- name: daily_delete
DELETE FROM tenant_cost_daily WHERE day >= %(first)s AND day <= %(last)s;

-- name: daily_insert
-- The UTC days first..last ([start, end): their first hour and the next day's) re-priced from
-- the evidence (one statement: the caller bounds it). The bounds are plain timestamptz
-- parameters: the function is inlined, and an expression here would be evaluated again for
-- every evidence row its scan compares with them. Rows go in in the unique key's order
-- (a third less time inserting a day at 10,000 tenants than in hash order). Lines of no tenant
-- are stored with the nil UUID (revision 0027).
INSERT INTO tenant_cost_daily (day, line, tenant_id, driver, source, kind, price_book,
                               quantity, unit, unit_price, amount)
SELECT (at AT TIME ZONE 'UTC')::date, line, coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), driver, source, kind,
       price_book,
       quantity, unit, unit_price, amount
  FROM tenantcost_priced_usage(%(start)s::timestamptz, %(end)s::timestamptz, 'day',
                               %(provider)s, %(memory_mb)s, %(books)s::text[])
 WHERE price_book IS NOT NULL
 ORDER BY 1, line, tenant_id, driver, source, price_book;

-- name: period_usage
-- The period's usage lines: its days' priced usage, summed (no tenant: NULL, stored as the
-- nil UUID).
SELECT line, nullif(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_id, driver, source, kind, price_book, unit, unit_price,
       sum(quantity) AS quantity, sum(amount) AS amount
  FROM tenant_cost_daily
 WHERE day >= %(first_day)s AND day <= %(last_day)s
 GROUP BY line, tenant_id, driver, source, kind, price_book, unit, unit_price
 ORDER BY line, tenant_id, driver, source, price_book;

-- name: usage_hours
-- The hours with usage evidence in [start, end): one index probe per hour (a loose index scan
-- on the (hour, ...) key), not a read of every evidence row of the month.
WITH RECURSIVE h AS (
    (SELECT u.hour FROM tenant_usage_hourly u
      WHERE u.hour >= %(start)s AND u.hour < %(end)s
      ORDER BY u.hour LIMIT 1)
    UNION ALL
    SELECT (SELECT u.hour FROM tenant_usage_hourly u
             WHERE u.hour > h.hour AND u.hour < %(end)s
             ORDER BY u.hour LIMIT 1)
      FROM h
     WHERE h.hour IS NOT NULL
)
SELECT hour FROM h WHERE hour IS NOT NULL;

-- name: usage_hours_distributed
-- usage_hours where Citus distributes the evidence (`db distribute`): Citus runs no recursive
-- CTE over a distributed table, so each shard lists its distinct hours.
SELECT DISTINCT u.hour FROM tenant_usage_hourly u
 WHERE u.hour >= %(start)s AND u.hour < %(end)s;

-- name: rolled_hours
-- The hours of [start, end) that had usage evidence on days rolled up to daily evidence: the
-- hours recorded when they were rolled up (usage_hours finds no row of theirs).
SELECT r.day::timestamp AT TIME ZONE 'UTC' + make_interval(hours => g) AS hour
  FROM tenant_usage_rolled_days r CROSS JOIN generate_series(0, 23) g
 WHERE r.day >= (%(start)s::timestamptz AT TIME ZONE 'UTC')::date
   AND r.day <= (%(end)s::timestamptz AT TIME ZONE 'UTC')::date
   AND r.hours & (1 << g) <> 0
   AND r.day::timestamp AT TIME ZONE 'UTC' + make_interval(hours => g) >= %(start)s
   AND r.day::timestamp AT TIME ZONE 'UTC' + make_interval(hours => g) < %(end)s;

-- name: citus_loaded
-- Whether the Citus catalogue exists (then distributed_evidence can be asked).
SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL AS found;

-- name: distributed_evidence
-- Whether Citus distributes the evidence (`tenantcost db distribute`).
SELECT EXISTS (
    SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'tenant_usage_hourly'::regclass
) AS found;

-- name: host_by_hour
SELECT hour, metric, sum(quantity) AS quantity FROM host_usage_hourly
 WHERE hour >= %(start)s AND hour < %(end)s
   AND metric IN ('cpu_seconds', 'memory_gb_seconds', 'storage_bytes')
 GROUP BY hour, metric
 ORDER BY hour, metric;

-- name: fixed_lines
-- Every active resource's monthly approximate_cost on exactly one line (0006's function),
-- under the configured shared_cost_allocation rule.
SELECT l.line, l.tenant_id, l.direct_infrastructure_cost AS vps,
       l.shared_infrastructure_cost AS shared_vps, l.direct_email_service_cost AS dedicated_ips,
       l.shared_email_service_cost AS shared_ips, tenantcost_shared_cost_allocation() AS rule
  FROM tenantcost_cost_lines(tenantcost_shared_cost_allocation(), %(as_of)s) l
 ORDER BY l.line, l.tenant_id;

-- name: addon_costs
SELECT tenant_id, sum(addon_cost) AS monthly_cost
  FROM tenant_subscription_revenue
 GROUP BY tenant_id
HAVING sum(addon_cost) > 0
 ORDER BY tenant_id;

-- name: active_tenants
SELECT DISTINCT tenant_id FROM subscriptions WHERE status = 'active' ORDER BY tenant_id;

-- name: setting
SELECT value FROM cost_settings WHERE key = %(key)s;

-- name: invoice
SELECT amount, currency FROM host_invoices WHERE period = %(period)s;

-- name: invoice_upsert
INSERT INTO host_invoices (period, amount, currency) VALUES (%(period)s, %(amount)s, %(currency)s)
ON CONFLICT (period) DO UPDATE
   SET amount = EXCLUDED.amount, currency = EXCLUDED.currency,
       recorded_at = now(), recorded_by = current_user;

-- name: period_get
SELECT * FROM tenant_cost_periods WHERE period = %(period)s;

-- name: period_lock
SELECT pg_advisory_xact_lock(hashtext('tenantcost.attribution'), hashtext(%(period)s));

-- name: ledger_delete
DELETE FROM tenant_cost_ledger WHERE period = %(period)s;

-- name: ledger_copy
COPY tenant_cost_ledger (period, line, tenant_id, driver, source, fidelity, price_book,
                         quantity, unit, unit_price, amount) FROM STDIN;

-- name: period_upsert
-- (DO UPDATE takes now() from the proposed row: Citus refuses a function there on a reference
-- table, which `db distribute` makes of tenant_cost_periods.)
INSERT INTO tenant_cost_periods (period, period_start, period_end, covered_until, status, basis,
                                 allocation_rule, overhead_rule, currency, host_total,
                                 invoice_total, list_usage, tenant_usage, unattributed,
                                 background, idle, scale, total, notes, computed_at,
                                 closed_at, closed_by, close_reason)
VALUES (%(period)s, %(period_start)s, %(period_end)s, %(covered_until)s, %(status)s, %(basis)s,
        %(allocation_rule)s, %(overhead_rule)s, %(currency)s, %(host_total)s, %(invoice_total)s,
        %(list_usage)s, %(tenant_usage)s, %(unattributed)s, %(background)s, %(idle)s, %(scale)s,
        %(total)s, %(notes)s, now(), %(closed_at)s, %(closed_by)s, %(close_reason)s)
ON CONFLICT (period) DO UPDATE
   SET covered_until = EXCLUDED.covered_until, status = EXCLUDED.status,
       basis = EXCLUDED.basis, allocation_rule = EXCLUDED.allocation_rule,
       overhead_rule = EXCLUDED.overhead_rule, currency = EXCLUDED.currency,
       host_total = EXCLUDED.host_total, invoice_total = EXCLUDED.invoice_total,
       list_usage = EXCLUDED.list_usage, tenant_usage = EXCLUDED.tenant_usage,
       unattributed = EXCLUDED.unattributed, background = EXCLUDED.background,
       idle = EXCLUDED.idle, scale = EXCLUDED.scale, total = EXCLUDED.total,
       notes = EXCLUDED.notes, computed_at = EXCLUDED.computed_at, closed_at = EXCLUDED.closed_at,
       closed_by = EXCLUDED.closed_by, close_reason = EXCLUDED.close_reason;

-- name: period_reopen_audit
INSERT INTO cost_audit (entity, entity_id, old_value, new_value, source, reason)
VALUES ('period', %(period)s, 'closed', 'provisional', 'attribute', %(reason)s);

-- name: figures_delete
DELETE FROM tenant_period_figures WHERE period = %(period)s;

-- name: figures_insert
-- One row per tenant: revenue accrued like the fixed costs (x the covered share of the month),
-- cost from the ledger's tenant lines, and the seed's metrics judged on that full cost.
WITH subs AS (
    SELECT r.tenant_id,
           string_agg(DISTINCT r.plan_name, ' + ' ORDER BY r.plan_name) AS plan_name,
           string_agg(DISTINCT r.tier, ' + ' ORDER BY r.tier) AS tier,
           sum(r.subscription_revenue) AS subscription_revenue,
           sum(r.addon_revenue) AS addon_revenue,
           min(r.current_period_start) AS current_period_start,
           max(r.current_period_end) AS current_period_end
      FROM tenant_subscription_revenue r
     GROUP BY r.tenant_id
), costs AS (
    SELECT l.tenant_id,
           sum(l.amount) FILTER (WHERE l.driver = 'vps') AS vps,
           sum(l.amount) FILTER (WHERE l.driver = 'shared_vps') AS shared_vps,
           sum(l.amount) FILTER (WHERE l.driver = 'dedicated_ips') AS dedicated_ips,
           sum(l.amount) FILTER (WHERE l.driver = 'shared_ips') AS shared_ips,
           sum(l.amount) FILTER (WHERE l.driver = 'compute') AS compute,
           sum(l.amount) FILTER (WHERE l.driver = 'memory') AS memory,
           sum(l.amount) FILTER (WHERE l.driver = 'storage') AS storage,
           sum(l.amount) FILTER (WHERE l.driver = 'network') AS network,
           sum(l.amount) FILTER (WHERE l.driver = 'addons') AS addons,
           sum(l.amount) FILTER (WHERE l.driver = 'platform_overhead') AS overhead,
           string_agg(DISTINCT l.source, ' + ' ORDER BY l.source)
             FILTER (WHERE l.driver = 'compute') AS compute_source
      FROM tenant_cost_ledger l
     WHERE l.period = %(period)s AND l.line = 'tenant'
     GROUP BY l.tenant_id
), paid AS (
    SELECT py.tenant_id, sum(py.amount) AS payments
      FROM tenantcost_tenant_payments py
     WHERE py.billing_period_start >= %(period_start)s AND py.billing_period_start < %(period_end)s
     GROUP BY py.tenant_id
), mail AS (
    SELECT ba.tenant_id, sum(GREATEST(ba.emails_sent, 0)) AS emails
      FROM tenantcost_tenant_emails ba
     WHERE ba.period_start >= %(period_start)s AND ba.period_start < %(covered_until)s
     GROUP BY ba.tenant_id
), base AS (
    SELECT t.tenant_id, co.name AS company_name,
           coalesce(su.plan_name, '(no active subscription)') AS plan_name, su.tier,
           su.current_period_start, su.current_period_end,
           round(coalesce(su.subscription_revenue, 0) * %(fraction)s, 12) AS subscription_revenue,
           round(coalesce(su.addon_revenue, 0) * %(fraction)s, 12) AS addon_revenue,
           coalesce(pd.payments, 0) AS payments,
           coalesce(c.vps, 0) AS vps, coalesce(c.shared_vps, 0) AS shared_vps,
           coalesce(c.dedicated_ips, 0) AS dedicated_ips, coalesce(c.shared_ips, 0) AS shared_ips,
           coalesce(c.compute, 0) AS compute, coalesce(c.memory, 0) AS memory,
           coalesce(c.storage, 0) AS storage, coalesce(c.network, 0) AS network,
           coalesce(c.addons, 0) AS addons, coalesce(c.overhead, 0) AS overhead,
           c.compute_source, coalesce(m.emails, 0) AS emails
      FROM (SELECT tenant_id FROM subs UNION SELECT tenant_id FROM costs) t
      JOIN companies co ON co.id = t.tenant_id
      LEFT JOIN subs su ON su.tenant_id = t.tenant_id
      LEFT JOIN costs c ON c.tenant_id = t.tenant_id
      LEFT JOIN paid pd ON pd.tenant_id = t.tenant_id
      LEFT JOIN mail m ON m.tenant_id = t.tenant_id
), totals AS (
    SELECT b.*, b.subscription_revenue + b.addon_revenue AS revenue,
           b.vps + b.shared_vps + b.dedicated_ips + b.shared_ips + b.compute + b.memory
             + b.storage + b.network + b.addons + b.overhead AS cost
      FROM base b
)
INSERT INTO tenant_period_figures (
    period, tenant_id, company_name, plan_name, tier, current_period_start, current_period_end,
    subscription_revenue, addon_revenue, revenue, payments_received,
    vps_cost, shared_vps_cost, dedicated_ip_cost, shared_ip_cost, compute_cost, memory_cost,
    storage_cost, network_cost, addon_cost, platform_overhead_cost,
    infrastructure_costs, email_service_costs, usage_cost, total_operational_cost,
    monthly_profit, collected_profit, gross_margin_ratio, gross_margin_pct,
    cost_efficiency_score, business_health_status, emails_sent, cost_per_email_delivered,
    business_efficiency_ratio, compute_source, dashboard_date)
SELECT %(period)s, t.tenant_id, t.company_name, t.plan_name, t.tier, t.current_period_start,
       t.current_period_end, t.subscription_revenue, t.addon_revenue, t.revenue, t.payments,
       t.vps, t.shared_vps, t.dedicated_ips, t.shared_ips, t.compute, t.memory, t.storage,
       t.network, t.addons, t.overhead,
       t.vps + t.shared_vps, t.dedicated_ips + t.shared_ips,
       t.compute + t.memory + t.storage + t.network, t.cost,
       t.revenue - t.cost, t.payments - t.cost,
       CASE WHEN t.cost > 0 THEN t.revenue / t.cost END,
       CASE WHEN t.revenue > 0 THEN (t.revenue - t.cost) / t.revenue * 100 END,
       CASE WHEN t.revenue > 0
            THEN LEAST(100, GREATEST(0, round((t.revenue - t.cost) / t.revenue * 100)))::integer
            ELSE 0 END,
       CASE WHEN t.revenue > t.cost * 2 THEN 'Excellent'
            WHEN t.revenue > t.cost * 1.5 THEN 'Good'
            WHEN t.revenue > t.cost THEN 'Monitor'
            ELSE 'Critical Action Required' END,
       t.emails,
       CASE WHEN t.emails > 0 THEN t.cost / t.emails END,
       CASE WHEN t.cost > 0 THEN t.payments / t.cost END,
       t.compute_source,
       (now() AT TIME ZONE 'UTC')::date
  FROM totals t;

-- name: refresh_state_upsert
INSERT INTO tenantcost_refresh_state (id, refreshed_at, changes_seen)
SELECT 1, now(), CASE WHEN is_called THEN last_value ELSE 0 END
  FROM tenantcost_cost_input_changes
ON CONFLICT (id) DO UPDATE
   SET refreshed_at = EXCLUDED.refreshed_at, changes_seen = EXCLUDED.changes_seen;

-- name: freshness
-- When the figures were last recomputed, and how many changes to their inputs came since.
SELECT r.refreshed_at,
       GREATEST(0, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END
                      FROM tenantcost_cost_input_changes) - r.changes_seen) AS changes_pending,
       tenantcost_latest_period() AS period
  FROM (SELECT 1) one
  LEFT JOIN tenantcost_refresh_state r ON true;

-- name: periods
SELECT * FROM tenant_cost_periods ORDER BY period DESC LIMIT %(limit)s;

-- name: due_for_closing
SELECT period FROM tenant_cost_periods
 WHERE status = 'provisional' AND period_end + make_interval(hours => %(hours)s) <= %(now)s
 ORDER BY period;

-- name: rolled_in_range
-- Days of first..last whose hourly evidence was rolled up (revision 0020): not re-priceable,
-- unless they hold hourly evidence again (day_has_hourly: a rolled-up day written again by a
-- bulk load is priceable).
SELECT r.day, r.rolled_at FROM tenant_usage_rolled_days r
 WHERE r.day >= %(first)s AND r.day <= %(last)s
 ORDER BY r.day;
