-- ============================================================================
-- Seed 000 steps 3-5: business intelligence views, built correctly.
-- ============================================================================
-- What the seed's SQL got wrong and this file does instead (docs: README "Metrics"):
--   * every tenant was charged every active VPS  -> costs follow vps/ip tenant_id;
--   * VPS x IPs x payments x analytics fan-out    -> each source is summed per tenant first;
--   * truncated ratio expressions                 -> revenue / cost, payments / cost, ...;
--   * payments were added to cost                 -> payments are revenue, never cost;
--   * indexes and RLS on plain views              -> materialized rollups carry the indexes,
--     plain views are security_invoker (base-table RLS applies), tenants read the rollups
--     through security-barrier views.
-- Shared infrastructure (tenant_id IS NULL) is allocated by the cost setting
-- shared_cost_allocation (none | even | emails_sent); what is not allocated is an explicit
-- line in shared_infrastructure_cost, so the totals reconcile to the cent.

-- ---------------------------------------------------------------------------
-- 1. The allocation rule: a cost setting, validated by the table as well.
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conname = 'chk_cost_settings_shared_cost_allocation'
                      AND conrelid = 'cost_settings'::regclass) THEN
        ALTER TABLE cost_settings
        ADD CONSTRAINT chk_cost_settings_shared_cost_allocation
        CHECK (key <> 'shared_cost_allocation' OR value IN ('none', 'even', 'emails_sent'));
    END IF;
END
$$;

INSERT INTO cost_settings (key, value, description)
VALUES ('shared_cost_allocation', 'none',
        'How shared infrastructure (VPS/IPs with no tenant) is charged to tenants: none (shown '
        'as an unallocated line), even (equal split over tenants with an active subscription) or '
        'emails_sent (in proportion to emails sent in the last 30 days; even when nobody sent any).')
ON CONFLICT (key) DO NOTHING;

-- The 30-day email window (billing_analytics.period_start on or after 00:00 UTC 30 days
-- before today, UTC) is read through payments' and analytics' own indexes.
CREATE INDEX IF NOT EXISTS idx_tc_billing_analytics_period
    ON billing_analytics (period_start) INCLUDE (subscription_id, emails_sent);

-- Functions below use SQL-standard bodies (BEGIN ATOMIC): parsed once, bound to these
-- tables, and safe under the restricted search_path that REFRESH MATERIALIZED VIEW uses.
CREATE OR REPLACE FUNCTION tenantcost_shared_cost_allocation() RETURNS text
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT COALESCE((SELECT value FROM cost_settings WHERE key = 'shared_cost_allocation'),
                    'none');
END;
COMMENT ON FUNCTION tenantcost_shared_cost_allocation() IS
'The configured shared_cost_allocation rule (cost_settings), none when the setting is absent.';

-- ---------------------------------------------------------------------------
-- 2. Cost lines: every active resource's cost lands on exactly one line.
-- ---------------------------------------------------------------------------
-- line = 'tenant'                 one row per tenant (company with an active subscription):
--                                 its own resources + its share of shared resources;
-- line = 'shared_unallocated'     one row: shared cost not allocated (all of it under 'none');
-- line = 'no_active_subscription' one row per company that owns active resources but has no
--                                 active subscription (charged to nobody, shown, never dropped).
-- Allocation rounds to cents by largest remainder (ties: lower tenant_id), so the shares sum to
-- the shared pool exactly.
CREATE OR REPLACE FUNCTION tenantcost_cost_lines(rule text)
RETURNS TABLE (line text, tenant_id uuid, emails_sent bigint,
               direct_infrastructure_cost numeric, shared_infrastructure_cost numeric,
               direct_email_service_cost numeric, shared_email_service_cost numeric)
LANGUAGE sql STABLE
BEGIN ATOMIC
WITH tenants AS (
    SELECT DISTINCT s.tenant_id FROM subscriptions s WHERE s.status = 'active'
),
emails AS (
    SELECT s.tenant_id, sum(GREATEST(ba.emails_sent, 0)) AS emails_sent
      FROM billing_analytics ba
      JOIN subscriptions s ON s.id = ba.subscription_id AND s.status = 'active'
     WHERE ba.period_start >= (date_trunc('day', now() AT TIME ZONE 'UTC')
                               - interval '30 days') AT TIME ZONE 'UTC'
     GROUP BY s.tenant_id
),
vps AS (   -- active VPS per owner; owner NULL = shared
    SELECT v.tenant_id, COALESCE(sum(v.approximate_cost), 0.00) AS cost
      FROM vps_instances v
     WHERE v.status = 'active'
     GROUP BY v.tenant_id
),
ips AS (   -- billable IPs per owner: the IP's own tenant, else its VPS's (whatever the VPS status)
    SELECT COALESCE(ip.tenant_id, v.tenant_id) AS tenant_id,
           COALESCE(sum(ip.approximate_cost), 0.00) AS cost
      FROM smtp_ip_addresses ip
      LEFT JOIN vps_instances v ON v.id = ip.vps_instance_id
     WHERE ip.status IN ('active', 'warmed', 'warming')
     GROUP BY 1
),
pool AS (  -- the shared pool, in cents
    SELECT COALESCE((SELECT cost FROM vps WHERE vps.tenant_id IS NULL), 0.00) * 100 AS infra,
           COALESCE((SELECT cost FROM ips WHERE ips.tenant_id IS NULL), 0.00) * 100 AS email
),
weights AS (
    SELECT t.tenant_id,
           CASE WHEN rule = 'emails_sent'
                     AND COALESCE((SELECT sum(e2.emails_sent) FROM emails e2), 0) > 0
                THEN COALESCE(e.emails_sent, 0)
                ELSE 1
           END::numeric AS weight
      FROM tenants t
      LEFT JOIN emails e ON e.tenant_id = t.tenant_id
     WHERE rule IN ('even', 'emails_sent')
),
split AS (
    SELECT w.tenant_id,
           div(p.infra * w.weight, sum(w.weight) OVER ()) AS infra_base,
           mod(p.infra * w.weight, sum(w.weight) OVER ()) AS infra_rem,
           div(p.email * w.weight, sum(w.weight) OVER ()) AS email_base,
           mod(p.email * w.weight, sum(w.weight) OVER ()) AS email_rem
      FROM weights w CROSS JOIN pool p
),
alloc AS (  -- floor cents + one residual cent each to the largest remainders
    SELECT s.tenant_id,
           s.infra_base
             + CASE WHEN row_number() OVER (ORDER BY s.infra_rem DESC, s.tenant_id)
                         <= p.infra - sum(s.infra_base) OVER () THEN 1 ELSE 0 END AS infra,
           s.email_base
             + CASE WHEN row_number() OVER (ORDER BY s.email_rem DESC, s.tenant_id)
                         <= p.email - sum(s.email_base) OVER () THEN 1 ELSE 0 END AS email
      FROM split s CROSS JOIN pool p
),
owners AS (  -- companies owning active resources without an active subscription
    SELECT o.tenant_id
      FROM (SELECT vps.tenant_id FROM vps UNION SELECT ips.tenant_id FROM ips) o
     WHERE o.tenant_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = o.tenant_id)
)
SELECT 'tenant'::text, t.tenant_id, COALESCE(e.emails_sent, 0)::bigint,
       COALESCE(v.cost, 0.00), round(COALESCE(a.infra, 0) / 100, 2),
       COALESCE(i.cost, 0.00), round(COALESCE(a.email, 0) / 100, 2)
  FROM tenants t
  LEFT JOIN emails e ON e.tenant_id = t.tenant_id
  LEFT JOIN vps v ON v.tenant_id = t.tenant_id
  LEFT JOIN ips i ON i.tenant_id = t.tenant_id
  LEFT JOIN alloc a ON a.tenant_id = t.tenant_id
UNION ALL
SELECT 'shared_unallocated'::text, NULL::uuid, NULL::bigint,
       0.00, round((p.infra - COALESCE((SELECT sum(a2.infra) FROM alloc a2), 0)) / 100, 2),
       0.00, round((p.email - COALESCE((SELECT sum(a3.email) FROM alloc a3), 0)) / 100, 2)
  FROM pool p
UNION ALL
SELECT 'no_active_subscription'::text, o.tenant_id, NULL::bigint,
       COALESCE(v.cost, 0.00), 0.00, COALESCE(i.cost, 0.00), 0.00
  FROM owners o
  LEFT JOIN vps v ON v.tenant_id = o.tenant_id
  LEFT JOIN ips i ON i.tenant_id = o.tenant_id;
END;
COMMENT ON FUNCTION tenantcost_cost_lines(text) IS
'Every active resource''s approximate_cost on exactly one line (tenant / shared_unallocated / no_active_subscription) under the given allocation rule; the lines sum to the active resources'' cost to the cent.';

-- ---------------------------------------------------------------------------
-- 3. Per-tenant metrics: one row per company with an active subscription.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tenantcost_business_metrics(rule text)
RETURNS TABLE (tenant_id uuid, company_name text, plan_name text, price_monthly numeric,
               current_period_start timestamptz, current_period_end timestamptz,
               monthly_subscription_revenue numeric,
               direct_infrastructure_cost numeric, shared_infrastructure_cost numeric,
               infrastructure_costs numeric,
               direct_email_service_cost numeric, shared_email_service_cost numeric,
               email_service_costs numeric,
               total_operational_cost numeric, emails_sent bigint, payments_received numeric,
               gross_margin_ratio numeric, gross_margin_pct numeric,
               cost_efficiency_score integer, business_health_status text,
               monthly_profit numeric, payment_profit numeric,
               cost_per_email_delivered numeric, business_efficiency_ratio numeric,
               dashboard_date date, allocation_rule text)
LANGUAGE sql STABLE
BEGIN ATOMIC
WITH subs AS (   -- a tenant with several active subscriptions: revenue summed, plans named
    SELECT s.tenant_id,
           string_agg(DISTINCT p.name, ' + ' ORDER BY p.name) AS plan_name,
           sum(COALESCE(p.price_monthly, 0.00)) AS revenue,
           min(s.current_period_start) AS period_start,
           max(s.current_period_end) AS period_end
      FROM subscriptions s
      JOIN plans p ON p.id = s.plan_id
     WHERE s.status = 'active'
     GROUP BY s.tenant_id
),
paid AS (        -- payments whose billing period starts inside the subscription's current period
    SELECT s.tenant_id, sum(py.amount) AS payments
      FROM payments py
      JOIN subscriptions s ON s.id = py.subscription_id AND s.status = 'active'
     WHERE py.billing_period_start >= s.current_period_start
       AND py.billing_period_start < s.current_period_end
     GROUP BY s.tenant_id
),
base AS (
    SELECT su.tenant_id, co.name AS company_name, su.plan_name, su.revenue,
           su.period_start, su.period_end,
           c.direct_infrastructure_cost AS direct_infra, c.shared_infrastructure_cost AS shared_infra,
           c.direct_infrastructure_cost + c.shared_infrastructure_cost AS infra,
           c.direct_email_service_cost AS direct_email, c.shared_email_service_cost AS shared_email,
           c.direct_email_service_cost + c.shared_email_service_cost AS email,
           c.direct_infrastructure_cost + c.shared_infrastructure_cost
             + c.direct_email_service_cost + c.shared_email_service_cost AS cost,
           c.emails_sent,
           COALESCE(pd.payments, 0.00) AS payments
      FROM subs su
      JOIN companies co ON co.id = su.tenant_id
      JOIN tenantcost_cost_lines(rule) c ON c.line = 'tenant' AND c.tenant_id = su.tenant_id
      LEFT JOIN paid pd ON pd.tenant_id = su.tenant_id
)
SELECT b.tenant_id, b.company_name, b.plan_name, b.revenue,
       b.period_start, b.period_end,
       b.revenue,
       b.direct_infra, b.shared_infra, b.infra,
       b.direct_email, b.shared_email, b.email,
       b.cost, b.emails_sent, b.payments,
       CASE WHEN b.cost > 0 THEN round(b.revenue / b.cost, 2) ELSE 0.00 END,
       CASE WHEN b.revenue > 0 THEN round((b.revenue - b.cost) / b.revenue * 100, 2) END,
       CASE WHEN b.revenue > 0
            THEN LEAST(100, GREATEST(0, round((b.revenue - b.cost) / b.revenue * 100)))::integer
            ELSE 0 END,
       CASE WHEN b.revenue > b.cost * 2 THEN 'Excellent'
            WHEN b.revenue > b.cost * 1.5 THEN 'Good'
            WHEN b.revenue > b.cost THEN 'Monitor'
            ELSE 'Critical Action Required' END,
       b.revenue - b.cost,
       b.payments - b.cost,
       CASE WHEN b.emails_sent > 0 THEN round(b.cost / b.emails_sent, 4) ELSE 0.0000 END,
       CASE WHEN b.cost > 0 THEN round(b.payments / b.cost, 2) ELSE 0.00 END,
       (now() AT TIME ZONE 'UTC')::date,
       rule
  FROM base b;
END;
COMMENT ON FUNCTION tenantcost_business_metrics(text) IS
'Per-tenant revenue, cost (own + allocated shared) and margin metrics under the given allocation rule; the views and rollups are projections of it.';

-- On Citus the SQL functions that read tables are made PL/pgSQL with the same query (bound
-- to this schema, as an SQL-standard body is): Citus cannot plan a parameterized SQL-function query over distributed tables
-- ("Consider using PL/pgSQL functions instead"), nor distribute tables an SQL-standard body
-- depends on. Where payments / billing_analytics are distributed by tenant_id with
-- subscriptions, their joins to it carry the tenant too; others are repartitioned.
-- Same columns, same rows; a no-op without the citus extension.
DO $$
DECLARE
    f    regprocedure;
    body text;
    colocated text[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    -- The application's tables distributed by tenant_id with subscriptions: their joins to
    -- subscriptions carry the tenant too, so they stay on one shard instead of repartitioning.
    EXECUTE $q$SELECT COALESCE(array_agg(p.logicalrelid::regclass::text), '{}')
                 FROM pg_catalog.pg_dist_partition p
                 JOIN pg_catalog.pg_dist_partition s
                   ON s.logicalrelid = 'subscriptions'::regclass
                  AND s.colocationid = p.colocationid AND s.partmethod = 'h'
                  AND column_to_column_name(s.logicalrelid, s.partkey) = 'tenant_id'
                WHERE p.logicalrelid IN (to_regclass('payments'), to_regclass('billing_analytics'))
                  AND column_to_column_name(p.logicalrelid, p.partkey) = 'tenant_id'$q$
       INTO colocated;
    FOREACH f IN ARRAY ARRAY['tenantcost_shared_cost_allocation()', 'tenantcost_cost_lines(text)',
                             'tenantcost_business_metrics(text)']::regprocedure[] LOOP
        body := COALESCE(regexp_replace(regexp_replace(pg_get_function_sqlbody(f),
                                                       '^\s*BEGIN ATOMIC\s*', ''),
                                        ';?\s*END\s*$', ''),
                         (SELECT p.prosrc FROM pg_catalog.pg_proc p WHERE p.oid = f));
        IF 'billing_analytics' = ANY (colocated) THEN
            body := replace(body, 's.id = ba.subscription_id',
                            's.id = ba.subscription_id AND s.tenant_id = ba.tenant_id');
        END IF;
        IF 'payments' = ANY (colocated) THEN
            body := replace(body, 's.id = py.subscription_id',
                            's.id = py.subscription_id AND s.tenant_id = py.tenant_id');
        END IF;
        body := rtrim(body, E'; \n');
        EXECUTE format('CREATE OR REPLACE FUNCTION %s(%s) RETURNS %s LANGUAGE plpgsql STABLE '
                       'SET search_path = %I, pg_temp SET citus.enable_repartition_joins = on '
                       'AS %L', f::oid::regproc, pg_get_function_arguments(f),
                       pg_get_function_result(f), current_schema(),
                       E'#variable_conflict use_column\nBEGIN\n'
                       || CASE WHEN (SELECT p.proretset FROM pg_catalog.pg_proc p WHERE p.oid = f)
                               THEN E'RETURN QUERY\n' || body || ';'
                               ELSE 'RETURN (' || body || ');' END
                       || E'\nEND');
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------
-- 4. The seed's views (plain, security_invoker: base-table RLS applies to the caller).
-- ---------------------------------------------------------------------------
-- A database that ran the seed's naive views by hand gets them replaced (different columns).
DROP VIEW IF EXISTS executive_business_summary;
DROP VIEW IF EXISTS business_cost_allocation;

CREATE VIEW executive_business_summary WITH (security_invoker = true) AS
SELECT m.tenant_id, m.company_name, m.plan_name, m.current_period_start, m.current_period_end,
       m.monthly_subscription_revenue, m.infrastructure_costs, m.email_service_costs,
       m.gross_margin_ratio, m.cost_efficiency_score, m.total_operational_cost,
       m.business_health_status, m.dashboard_date, m.monthly_profit, m.gross_margin_pct
  FROM tenantcost_business_metrics(tenantcost_shared_cost_allocation()) m;

CREATE VIEW business_cost_allocation WITH (security_invoker = true) AS
SELECT m.tenant_id, m.company_name, m.plan_name, m.price_monthly,
       m.infrastructure_costs AS total_infrastructure_cost,
       m.email_service_costs AS total_email_service_cost,
       m.cost_per_email_delivered,
       m.total_operational_cost AS total_monthly_cost,
       m.payment_profit AS monthly_profit,
       m.business_efficiency_ratio,
       m.emails_sent,
       m.payments_received
  FROM tenantcost_business_metrics(tenantcost_shared_cost_allocation()) m;

CREATE VIEW shared_infrastructure_cost WITH (security_invoker = true) AS
SELECT l.line, l.tenant_id, co.name AS company_name,
       l.direct_infrastructure_cost + l.shared_infrastructure_cost AS infrastructure_cost,
       l.direct_email_service_cost + l.shared_email_service_cost AS email_service_cost,
       l.direct_infrastructure_cost + l.shared_infrastructure_cost
         + l.direct_email_service_cost + l.shared_email_service_cost AS total_cost,
       tenantcost_shared_cost_allocation() AS allocation_rule
  FROM tenantcost_cost_lines(tenantcost_shared_cost_allocation()) l
  LEFT JOIN companies co ON co.id = l.tenant_id
 WHERE l.line <> 'tenant';

COMMENT ON VIEW executive_business_summary IS
'Seed 000 executive summary, one row per tenant (company with an active subscription). Internal approximation for margin analysis, not billing. Fast copy: executive_business_rollup / tenant_business_rollup.';
COMMENT ON VIEW business_cost_allocation IS
'Seed 000 cost allocation, one row per tenant. Internal approximation, not billing. Fast copy: business_cost_allocation_rollup / tenant_cost_allocation_rollup.';
COMMENT ON VIEW shared_infrastructure_cost IS
'Active resource cost charged to no tenant: shared_unallocated (shared VPS/IPs not allocated under the rule) and no_active_subscription (owned by a company without an active subscription). With the tenants'' costs it sums to all active resources'' approximate_cost.';

COMMENT ON COLUMN executive_business_summary.tenant_id IS 'companies.id of a company with at least one active subscription.';
COMMENT ON COLUMN executive_business_summary.company_name IS 'companies.name.';
COMMENT ON COLUMN executive_business_summary.plan_name IS 'Plan of the active subscription (several active plans: names joined with " + ").';
COMMENT ON COLUMN executive_business_summary.current_period_start IS 'Start of the current billing period (earliest over the tenant''s active subscriptions).';
COMMENT ON COLUMN executive_business_summary.current_period_end IS 'End of the current billing period (latest over the tenant''s active subscriptions).';
COMMENT ON COLUMN executive_business_summary.monthly_subscription_revenue IS 'Sum of plans.price_monthly over the tenant''s active subscriptions (USD; 0.00 for a free plan).';
COMMENT ON COLUMN executive_business_summary.infrastructure_costs IS 'Monthly USD: approximate_cost of the tenant''s active VPS (vps_instances.tenant_id) + its share of active shared VPS (tenant_id NULL) under cost setting shared_cost_allocation.';
COMMENT ON COLUMN executive_business_summary.email_service_costs IS 'Monthly USD: approximate_cost of IPs in status active/warmed/warming owned by the tenant (smtp_ip_addresses.tenant_id, else the tenant of its VPS whatever the VPS status) + its share of shared IPs under shared_cost_allocation.';
COMMENT ON COLUMN executive_business_summary.gross_margin_ratio IS 'monthly_subscription_revenue / total_operational_cost, 2 decimals; 0.00 when the cost is 0.';
COMMENT ON COLUMN executive_business_summary.cost_efficiency_score IS 'gross_margin_pct before rounding, clamped to 0..100 and rounded half up to an integer; 0 when revenue is 0.';
COMMENT ON COLUMN executive_business_summary.total_operational_cost IS 'infrastructure_costs + email_service_costs (monthly USD). Customer payments are revenue, never cost.';
COMMENT ON COLUMN executive_business_summary.business_health_status IS 'Excellent when revenue > 2 x cost, Good when > 1.5 x cost, Monitor when > cost, else Critical Action Required (so a free plan is Critical).';
COMMENT ON COLUMN executive_business_summary.dashboard_date IS 'The UTC date the figures were computed (today for the view; the refresh date in the rollups).';
COMMENT ON COLUMN executive_business_summary.monthly_profit IS 'monthly_subscription_revenue - total_operational_cost (USD).';
COMMENT ON COLUMN executive_business_summary.gross_margin_pct IS '(revenue - cost) / revenue x 100, 2 decimals; NULL when revenue is 0.';

COMMENT ON COLUMN business_cost_allocation.tenant_id IS 'companies.id of a company with at least one active subscription.';
COMMENT ON COLUMN business_cost_allocation.company_name IS 'companies.name.';
COMMENT ON COLUMN business_cost_allocation.plan_name IS 'Plan of the active subscription (several active plans: names joined with " + ").';
COMMENT ON COLUMN business_cost_allocation.price_monthly IS 'Sum of plans.price_monthly over the tenant''s active subscriptions (USD).';
COMMENT ON COLUMN business_cost_allocation.total_infrastructure_cost IS 'Same as executive_business_summary.infrastructure_costs: own active VPS + allocated share of shared VPS.';
COMMENT ON COLUMN business_cost_allocation.total_email_service_cost IS 'Same as executive_business_summary.email_service_costs: own billable IPs + allocated share of shared IPs.';
COMMENT ON COLUMN business_cost_allocation.cost_per_email_delivered IS '(total_infrastructure_cost + total_email_service_cost) / emails_sent, 4 decimals; 0.0000 when no emails were sent.';
COMMENT ON COLUMN business_cost_allocation.total_monthly_cost IS 'total_infrastructure_cost + total_email_service_cost (monthly USD). Customer payments are revenue, never cost.';
COMMENT ON COLUMN business_cost_allocation.monthly_profit IS 'payments_received - total_monthly_cost (USD).';
COMMENT ON COLUMN business_cost_allocation.business_efficiency_ratio IS 'payments_received / total_monthly_cost, 2 decimals; 0.00 when the cost is 0.';
COMMENT ON COLUMN business_cost_allocation.emails_sent IS 'billing_analytics.emails_sent of the tenant''s active subscriptions with period_start on or after 00:00 UTC 30 days before today (UTC).';
COMMENT ON COLUMN business_cost_allocation.payments_received IS 'Sum of payments.amount of the tenant''s active subscriptions whose billing_period_start lies in [current_period_start, current_period_end).';

COMMENT ON COLUMN shared_infrastructure_cost.line IS 'shared_unallocated (always present, may be 0.00) or no_active_subscription (one row per owning company).';
COMMENT ON COLUMN shared_infrastructure_cost.tenant_id IS 'Owning company for no_active_subscription lines; NULL for shared_unallocated.';
COMMENT ON COLUMN shared_infrastructure_cost.infrastructure_cost IS 'Active VPS cost on this line (USD per month).';
COMMENT ON COLUMN shared_infrastructure_cost.email_service_cost IS 'Billable IP cost on this line (USD per month).';
COMMENT ON COLUMN shared_infrastructure_cost.total_cost IS 'infrastructure_cost + email_service_cost.';
COMMENT ON COLUMN shared_infrastructure_cost.allocation_rule IS 'The shared_cost_allocation rule in force.';

-- ---------------------------------------------------------------------------
-- 5. Materialized rollups behind the dashboard, with the seed's indexes.
-- ---------------------------------------------------------------------------
-- Computed with the refreshing owner's full visibility (shared VPS included), so a tenant's
-- allocated share is the same for the tenant as for Finance. Materialized views cannot have
-- RLS: application_service has no access to them, only to the tenant_* barrier views below.
CREATE MATERIALIZED VIEW executive_business_rollup AS
SELECT m.*, now() AS refreshed_at
  FROM tenantcost_business_metrics(tenantcost_shared_cost_allocation()) m
WITH DATA;
CREATE UNIQUE INDEX idx_executive_business_summary_tenant ON executive_business_rollup (tenant_id);
CREATE INDEX idx_executive_business_summary_date ON executive_business_rollup (dashboard_date);
CREATE INDEX idx_executive_business_rollup_score
    ON executive_business_rollup (cost_efficiency_score DESC);

CREATE MATERIALIZED VIEW business_cost_allocation_rollup AS
SELECT r.tenant_id, r.company_name, r.plan_name, r.price_monthly,
       r.infrastructure_costs AS total_infrastructure_cost,
       r.email_service_costs AS total_email_service_cost,
       r.cost_per_email_delivered,
       r.total_operational_cost AS total_monthly_cost,
       r.payment_profit AS monthly_profit,
       r.business_efficiency_ratio,
       r.emails_sent,
       r.payments_received,
       r.dashboard_date, r.allocation_rule, r.refreshed_at
  FROM executive_business_rollup r
WITH DATA;
CREATE UNIQUE INDEX idx_business_cost_allocation_tenant
    ON business_cost_allocation_rollup (tenant_id);
CREATE INDEX idx_business_cost_allocation_plan ON business_cost_allocation_rollup (plan_name);
CREATE INDEX idx_business_cost_allocation_profit
    ON business_cost_allocation_rollup (monthly_profit) WHERE monthly_profit > 0;

CREATE MATERIALIZED VIEW shared_cost_rollup AS
SELECT s.line || ':' || COALESCE(s.tenant_id::text, '') AS line_key, s.*, now() AS refreshed_at
  FROM shared_infrastructure_cost s
WITH DATA;
CREATE UNIQUE INDEX idx_shared_cost_rollup_key ON shared_cost_rollup (line_key);

COMMENT ON MATERIALIZED VIEW executive_business_rollup IS
'executive_business_summary plus the cost_allocation columns, materialized for the dashboard; refreshed by `tenantcost report refresh` (tenantcost_refresh_rollups()) and after cost syncs. Internal roles only.';
COMMENT ON MATERIALIZED VIEW business_cost_allocation_rollup IS
'business_cost_allocation, materialized from executive_business_rollup in the same refresh. Internal roles only.';
COMMENT ON MATERIALIZED VIEW shared_cost_rollup IS
'shared_infrastructure_cost, materialized in the same refresh. Internal roles only.';

-- ---------------------------------------------------------------------------
-- 6. Tenant-facing security-barrier views over the rollups.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tenantcost_reads_all_tenants() RETURNS boolean
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT pg_has_role('business_analysts', 'MEMBER')
        OR pg_has_role('db_administrators', 'MEMBER');
END;
COMMENT ON FUNCTION tenantcost_reads_all_tenants() IS
'True for internal roles (members of business_analysts or db_administrators, and superusers): they read every tenant''s rollup rows.';

-- Internal roles: every row. Anyone else: the rows of app.current_tenant_id, none when unset.
-- UNION ALL with one-time filters keeps both arms index-friendly.
CREATE VIEW tenant_business_rollup WITH (security_barrier = true) AS
SELECT r.tenant_id, r.company_name, r.plan_name, r.current_period_start, r.current_period_end,
       r.monthly_subscription_revenue, r.infrastructure_costs, r.email_service_costs,
       r.gross_margin_ratio, r.cost_efficiency_score, r.total_operational_cost,
       r.business_health_status, r.dashboard_date, r.monthly_profit, r.gross_margin_pct,
       r.allocation_rule, r.refreshed_at
  FROM executive_business_rollup r
 WHERE (SELECT tenantcost_reads_all_tenants())
UNION ALL
SELECT r.tenant_id, r.company_name, r.plan_name, r.current_period_start, r.current_period_end,
       r.monthly_subscription_revenue, r.infrastructure_costs, r.email_service_costs,
       r.gross_margin_ratio, r.cost_efficiency_score, r.total_operational_cost,
       r.business_health_status, r.dashboard_date, r.monthly_profit, r.gross_margin_pct,
       r.allocation_rule, r.refreshed_at
  FROM executive_business_rollup r
 WHERE NOT (SELECT tenantcost_reads_all_tenants())
   AND r.tenant_id = (SELECT tenantcost_current_tenant());

CREATE VIEW tenant_cost_allocation_rollup WITH (security_barrier = true) AS
SELECT r.* FROM business_cost_allocation_rollup r
 WHERE (SELECT tenantcost_reads_all_tenants())
UNION ALL
SELECT r.* FROM business_cost_allocation_rollup r
 WHERE NOT (SELECT tenantcost_reads_all_tenants())
   AND r.tenant_id = (SELECT tenantcost_current_tenant());

COMMENT ON VIEW tenant_business_rollup IS
'executive_business_rollup filtered to app.current_tenant_id (all rows for internal roles); what application_service reads.';
COMMENT ON VIEW tenant_cost_allocation_rollup IS
'business_cost_allocation_rollup filtered to app.current_tenant_id (all rows for internal roles); what application_service reads.';

-- ---------------------------------------------------------------------------
-- 7. Refresh (as the owner, so any db_administrators member may call it).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tenantcost_refresh_rollups() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['executive_business_rollup', 'business_cost_allocation_rollup',
                             'shared_cost_rollup'] LOOP
        IF (SELECT c.relispopulated FROM pg_class c WHERE c.oid = to_regclass(v)) THEN
            EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I', v);
        ELSE
            EXECUTE format('REFRESH MATERIALIZED VIEW %I', v);
        END IF;
    END LOOP;
END
$$;
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION tenantcost_refresh_rollups() SET search_path = %I, pg_temp',
                   current_schema());
END
$$;
COMMENT ON FUNCTION tenantcost_refresh_rollups() IS
'Refresh the three rollups (concurrently: readers are never blocked), in dependency order.';
REVOKE ALL ON FUNCTION tenantcost_refresh_rollups() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantcost_refresh_rollups() TO db_administrators;

-- ---------------------------------------------------------------------------
-- 8. Grants: tenant-facing relations vs internal-only ones.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tenantcost_apply_grants() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    -- Tenant-facing: security_invoker views (base-table RLS) and security-barrier views.
    FOREACH v IN ARRAY ARRAY['business_cost_allocation', 'executive_business_summary',
                             'tenant_business_rollup', 'tenant_cost_allocation_rollup'] LOOP
        IF to_regclass(v) IS NOT NULL THEN
            EXECUTE format('GRANT SELECT ON %I TO business_analysts, application_service', v);
            EXECUTE format('GRANT ALL ON %I TO db_administrators', v);
        END IF;
    END LOOP;
    -- Internal only: materialized rollups (no RLS possible) and the shared cost line.
    FOREACH v IN ARRAY ARRAY['executive_business_rollup', 'business_cost_allocation_rollup',
                             'shared_cost_rollup', 'shared_infrastructure_cost'] LOOP
        IF to_regclass(v) IS NOT NULL THEN
            EXECUTE format('REVOKE ALL ON %I FROM PUBLIC, application_service', v);
            EXECUTE format('GRANT SELECT ON %I TO business_analysts', v);
            EXECUTE format('GRANT ALL ON %I TO db_administrators', v);
        END IF;
    END LOOP;
END
$$;

SELECT tenantcost_apply_grants();
