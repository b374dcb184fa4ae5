-- ============================================================================
-- ONE COST MODEL (issue 11): every surface reads the same per-tenant, per-period figures.
-- ============================================================================
-- Before this revision usage cost (telemetry priced by a book) lived only in the ledger while
-- the seed's views, health status and dashboard counted VPS and IPs only, so one label showed
-- two numbers. From here on:
--
--   tenant_usage_hourly (evidence)
--     -> tenantcost_priced_usage()   one pricing definition (best source per metric, book in
--                                    force at each hour)
--     -> tenant_cost_hourly          priced usage per tenant-hour (recent window: tier
--                                    evaluation, cost-jump alerts, charts)
--     -> tenant_cost_daily           priced usage per tenant-day (all history)
--     -> tenant_cost_ledger          per period (UTC month): every cost line of every tenant -
--                                    own VPS and IPs, shared shares, usage, add-ons, platform
--                                    overhead - and the lines charged to no tenant
--     -> tenant_period_figures       one row per tenant and period: revenue, cost by driver,
--                                    profit, margin, health. The seed's views, the reports,
--                                    the dashboard, the API, /metrics, the FOCUS export and the
--                                    tier alerts all read it.
--
-- Periods are provisional until closed (tenant_cost_periods). A provisional period's figures
-- are accrued to its covered_until: fixed monthly costs and revenue x the covered share of the
-- month, usage as measured, so revenue and cost stay comparable on any day of the month.
-- The ledger and the figures are derived data: this revision replaces the old ledger (re-run
-- `tenantcost attribute`), and the materialized rollups by the figures table, which carries
-- row-level security like the base tables (no UNION ALL barrier views any more).

-- ---------------------------------------------------------------------------
-- 1. Settings of the model (audited cost settings, validated here too).
-- ---------------------------------------------------------------------------
INSERT INTO cost_settings (key, value, description) VALUES
    ('overhead_allocation', 'none',
     'How platform overhead (control plane, idle, unattributed and background usage) is charged '
     'to tenants: none (shown as lines of their own), even (equal split over tenants with an '
     'active subscription) or usage (in proportion to each tenant''s measured usage cost).'),
    ('control_plane_monthly_cost', '0',
     'Monthly cost of running the platform itself (seed 002: the DLS control plane, 30 USD), '
     'charged as its own line or spread by overhead_allocation.')
ON CONFLICT (key) DO NOTHING;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conname = 'chk_cost_settings_overhead_allocation'
                      AND conrelid = 'cost_settings'::regclass) THEN
        ALTER TABLE cost_settings
        ADD CONSTRAINT chk_cost_settings_overhead_allocation
        CHECK (key <> 'overhead_allocation' OR value IN ('none', 'even', 'usage'));
    END IF;
END
$$;

-- Reopening a closed period is audited like any cost change.
ALTER TABLE cost_audit DROP CONSTRAINT IF EXISTS cost_audit_entity_check;
ALTER TABLE cost_audit ADD CONSTRAINT cost_audit_entity_check
    CHECK (entity IN ('setting', 'vps', 'ip', 'period'));

-- Demo usage (`tenantcost demo run`): modelled from seed 002's tier profiles, ranked below
-- every real source so real telemetry wins any hour it covers.
INSERT INTO telemetry_metrics (metric, source, unit, kind, aggregate, priority, description) VALUES
 ('compute_seconds', 'demo', 'second', 'modelled', 'add', 9, 'Demo data: queries x seconds x vCPU per query (seed 002 profiles).'),
 ('connection_seconds', 'demo', 'second', 'modelled', 'add', 9, 'Demo data: query time x RAM per query / the per-connection footprint.'),
 ('storage_bytes', 'demo', 'byte', 'modelled', 'last', 9, 'Demo data: the tier profile''s storage, growing.'),
 ('egress_bytes', 'demo', 'byte', 'modelled', 'add', 9, 'Demo data: the tier profile''s egress spread over the month.'),
 ('query_count', 'demo', 'query', 'modelled', 'add', 9, 'Demo data: the tier profile''s queries a day, shaped by day and week.')
ON CONFLICT (metric, source) DO UPDATE
   SET unit = EXCLUDED.unit, kind = EXCLUDED.kind, aggregate = EXCLUDED.aggregate,
       priority = EXCLUDED.priority, description = EXCLUDED.description;

-- ---------------------------------------------------------------------------
-- 2. The old derived objects go: materialized rollups, barrier views, two-mode ledger.
-- ---------------------------------------------------------------------------
DROP VIEW IF EXISTS tenant_hourly_cost;
DROP VIEW IF EXISTS tenant_cost_allocation_rollup;
DROP VIEW IF EXISTS tenant_business_rollup;
DROP MATERIALIZED VIEW IF EXISTS shared_cost_rollup;
DROP MATERIALIZED VIEW IF EXISTS business_cost_allocation_rollup;
DROP MATERIALIZED VIEW IF EXISTS executive_business_rollup;
DROP VIEW IF EXISTS shared_infrastructure_cost;
DROP VIEW IF EXISTS business_cost_allocation;
DROP VIEW IF EXISTS executive_business_summary;
DROP FUNCTION IF EXISTS tenantcost_refresh_rollups();
DROP FUNCTION IF EXISTS tenantcost_business_metrics(text);
DROP TABLE IF EXISTS tenant_cost_totals;
DROP TABLE IF EXISTS tenant_cost_ledger;

-- ---------------------------------------------------------------------------
-- 3. Revenue: the plan's price after discounts, plus add-ons (one definition).
-- ---------------------------------------------------------------------------
-- Per active subscription. Discounts (subscription_terms) apply one after the other; add-on
-- revenue and the add-ons' cost to us ride along. tier is NULL for plans no tier governs.
CREATE OR REPLACE VIEW tenant_subscription_revenue WITH (security_invoker = true) AS
WITH discount AS (
    SELECT coalesce(max(value::numeric) FILTER (WHERE key = 'annual_prepay_discount_pct'), 0) AS annual,
           coalesce(max(value::numeric) FILTER (WHERE key = 'multi_project_discount_pct'), 0) AS multi
      FROM cost_settings
), extras AS (
    SELECT sa.subscription_id,
           sum(a.monthly_price * sa.quantity) AS addon_revenue,
           sum(a.monthly_cost * sa.quantity) AS addon_cost
      FROM subscription_addons sa JOIN addons a ON a.name = sa.addon
     GROUP BY sa.subscription_id
)
SELECT s.tenant_id, s.id AS subscription_id, p.name AS plan_name, pt.tier,
       coalesce(p.price_monthly, 0) AS plan_price,
       round(coalesce(p.price_monthly, 0)
             * (1 - CASE WHEN st.annual_prepay THEN d.annual / 100 ELSE 0 END)
             * (1 - CASE WHEN st.multi_project THEN d.multi / 100 ELSE 0 END), 2)
         AS subscription_revenue,
       coalesce(e.addon_revenue, 0) AS addon_revenue,
       coalesce(e.addon_cost, 0) AS addon_cost,
       s.current_period_start, s.current_period_end
  FROM subscriptions s
  JOIN plans p ON p.id = s.plan_id
  LEFT JOIN plan_tiers pt ON pt.plan_id = p.id
  CROSS JOIN discount d
  LEFT JOIN subscription_terms st ON st.subscription_id = s.id
  LEFT JOIN extras e ON e.subscription_id = s.id
 WHERE s.status = 'active';
COMMENT ON VIEW tenant_subscription_revenue IS
'Per active subscription: the plan''s monthly price after annual pre-pay and multi-project discounts (applied one after the other), add-on revenue, and the add-ons'' monthly cost to us. Revenue = subscription_revenue + addon_revenue.';

-- Tier economics read tiered subscriptions only (same figures, same definition).
DROP VIEW IF EXISTS tenant_monthly_revenue;
CREATE VIEW tenant_monthly_revenue WITH (security_invoker = true) AS
SELECT r.tenant_id, r.subscription_id, r.plan_name, r.tier, r.plan_price,
       t.monthly_price AS tier_price, r.subscription_revenue, r.addon_revenue, r.addon_cost,
       r.subscription_revenue + r.addon_revenue AS revenue
  FROM tenant_subscription_revenue r
  JOIN tiers t ON t.name = r.tier;
COMMENT ON VIEW tenant_monthly_revenue IS
'tenant_subscription_revenue for subscriptions whose plan is linked to a tier, with the tier''s list price beside it (what-if models use tier prices; revenue is always the plan''s price after discounts, plus add-ons).';

-- ---------------------------------------------------------------------------
-- 3b. Fixed cost lines as of a moment: 0006's allocation, with the emails_sent window ending
--     at the period's coverage instead of now() (a past month keeps its own weights).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tenantcost_cost_lines(rule text, as_of timestamptz)
RETURNS TABLE (line text, tenant_id uuid, emails_sent bigint,
               direct_infrastructure_cost numeric, shared_infrastructure_cost numeric,
               direct_email_service_cost numeric, shared_email_service_cost numeric)
LANGUAGE sql STABLE AS $fn$
WITH tenants AS (
    SELECT DISTINCT s.tenant_id FROM subscriptions s WHERE s.status = 'active'
),
emails AS (
    SELECT s.tenant_id, sum(GREATEST(ba.emails_sent, 0)) AS emails_sent
      FROM billing_analytics ba
      JOIN subscriptions s ON s.id = ba.subscription_id AND s.status = 'active'
     WHERE ba.period_start >= (date_trunc('day', as_of AT TIME ZONE 'UTC')
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
$fn$;
COMMENT ON FUNCTION tenantcost_cost_lines(text, timestamptz) IS
'Every active resource''s approximate_cost on exactly one line (tenant / shared_unallocated / no_active_subscription) under the given allocation rule, emails_sent weights from the 30 days before as_of; the lines sum to the active resources'' cost to the cent.';
CREATE OR REPLACE FUNCTION tenantcost_cost_lines(rule text)
RETURNS TABLE (line text, tenant_id uuid, emails_sent bigint,
               direct_infrastructure_cost numeric, shared_infrastructure_cost numeric,
               direct_email_service_cost numeric, shared_email_service_cost numeric)
LANGUAGE sql STABLE AS $fn$
    SELECT * FROM tenantcost_cost_lines(rule, now())
$fn$;

-- On Citus: PL/pgSQL with the same query, as in 0006 (a no-op without the citus extension).
DO $$
DECLARE
    body text;
    colocated boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    EXECUTE $q$SELECT EXISTS (
                 SELECT 1 FROM pg_catalog.pg_dist_partition p
                   JOIN pg_catalog.pg_dist_partition s
                     ON s.logicalrelid = 'subscriptions'::regclass
                    AND s.colocationid = p.colocationid AND s.partmethod = 'h'
                    AND column_to_column_name(s.logicalrelid, s.partkey) = 'tenant_id'
                  WHERE p.logicalrelid = to_regclass('billing_analytics')
                    AND column_to_column_name(p.logicalrelid, p.partkey) = 'tenant_id')$q$
       INTO colocated;
    SELECT p.prosrc INTO body FROM pg_catalog.pg_proc p
     WHERE p.oid = 'tenantcost_cost_lines(text, timestamptz)'::regprocedure;
    IF colocated THEN
        body := replace(body, 's.id = ba.subscription_id',
                        's.id = ba.subscription_id AND s.tenant_id = ba.tenant_id');
    END IF;
    EXECUTE format('CREATE OR REPLACE FUNCTION tenantcost_cost_lines(%s) RETURNS %s '
                   'LANGUAGE plpgsql STABLE SET search_path = %I, pg_temp '
                   'SET citus.enable_repartition_joins = on AS %L',
                   pg_get_function_arguments('tenantcost_cost_lines(text, timestamptz)'::regprocedure),
                   pg_get_function_result('tenantcost_cost_lines(text, timestamptz)'::regprocedure),
                   current_schema(),
                   E'#variable_conflict use_column\nBEGIN\nRETURN QUERY\n'
                   || rtrim(body, E'; \n') || E';\nEND');
END
$$;

-- ---------------------------------------------------------------------------
-- 4. Pricing: usage evidence x the book in force at each hour. The only place it is done.
-- ---------------------------------------------------------------------------
-- One row per (grain start, line, tenant, driver, source, book). Per tenant-hour and metric
-- the best source wins (telemetry_metrics.priority); storage sources are distinct objects
-- and add up. line: tenant | unattributed (usage no tenant mapping claims) | background
-- (server processes serving nobody, metric background_cpu_seconds). Hours without a book in
-- force come back with price_book NULL and amount NULL, so the caller can say so.
CREATE OR REPLACE FUNCTION tenantcost_priced_usage(
    p_start timestamptz, p_end timestamptz, p_grain text, p_provider text, p_memory_mb numeric,
    p_books text[])
RETURNS TABLE (at timestamptz, line text, tenant_id uuid, driver text, source text, kind text,
               price_book text, quantity numeric, unit text, unit_price numeric, amount numeric)
LANGUAGE sql STABLE AS $$
WITH evidence AS (
    SELECT u.hour, u.tenant_id, u.metric, u.source, u.quantity, m.kind,
           rank() OVER (PARTITION BY u.hour, u.tenant_id, u.metric
                        ORDER BY m.priority, u.source) AS r
      FROM tenant_usage_hourly u
      JOIN telemetry_metrics m USING (metric, source)
     WHERE u.hour >= p_start AND u.hour < p_end
       AND u.metric IN ('compute_seconds', 'connection_seconds', 'storage_bytes',
                        'egress_bytes', 'background_cpu_seconds')
), chosen AS MATERIALIZED (
    SELECT * FROM evidence e WHERE e.r = 1 OR e.metric = 'storage_bytes'
), books AS (
    SELECT b.name, b.effective_from,
           (b.document -> 'rates' ->> 'vcpu_per_second')::numeric AS vcpu,
           (b.document -> 'rates' ->> 'ram_gb_per_second')::numeric AS ram,
           (b.document -> 'rates' ->> 'storage_gb_month')::numeric AS storage,
           (b.document -> 'rates' ->> 'egress_gb')::numeric AS egress
      FROM price_books b WHERE b.provider = p_provider AND b.name = ANY (p_books)
), hours AS MATERIALIZED (
    SELECT DISTINCT c.hour FROM chosen c
), in_force AS MATERIALIZED (
    SELECT h.hour, b.name, b.vcpu, b.ram, b.storage, b.egress,
           extract(epoch FROM (date_trunc('month', h.hour, 'UTC') + interval '1 month')
                              - date_trunc('month', h.hour, 'UTC'))::numeric / 3600
             AS hours_in_month
      FROM hours h
      LEFT JOIN LATERAL (SELECT * FROM books b WHERE b.effective_from <= h.hour
                          ORDER BY b.effective_from DESC, b.name DESC LIMIT 1) b ON true
), priced AS (
    SELECT date_trunc(p_grain, c.hour, 'UTC') AS at,
           CASE WHEN c.metric = 'background_cpu_seconds' THEN 'background'
                WHEN c.tenant_id IS NULL THEN 'unattributed'
                ELSE 'tenant' END AS line,
           c.tenant_id,
           CASE c.metric WHEN 'connection_seconds' THEN 'memory'
                         WHEN 'storage_bytes' THEN 'storage'
                         WHEN 'egress_bytes' THEN 'network'
                         ELSE 'compute' END AS driver,
           c.source, c.kind, f.name AS price_book,
           CASE c.metric WHEN 'connection_seconds' THEN c.quantity * p_memory_mb / 1000
                         WHEN 'storage_bytes' THEN c.quantity / 1000000000 / f.hours_in_month
                         WHEN 'egress_bytes' THEN c.quantity / 1000000000
                         ELSE c.quantity END AS quantity,
           CASE c.metric WHEN 'connection_seconds' THEN 'GB-second'
                         WHEN 'storage_bytes' THEN 'GB-month'
                         WHEN 'egress_bytes' THEN 'GB'
                         ELSE 'vCPU-second' END AS unit,
           CASE c.metric WHEN 'connection_seconds' THEN f.ram
                         WHEN 'storage_bytes' THEN f.storage
                         WHEN 'egress_bytes' THEN f.egress
                         ELSE f.vcpu END AS unit_price
      FROM chosen c JOIN in_force f ON f.hour = c.hour
)
SELECT p.at, p.line, p.tenant_id, p.driver, p.source, p.kind, p.price_book,
       sum(p.quantity), p.unit, p.unit_price, round(sum(p.quantity) * p.unit_price, 12)
  FROM priced p
 GROUP BY p.at, p.line, p.tenant_id, p.driver, p.source, p.kind, p.price_book, p.unit,
          p.unit_price
$$;
COMMENT ON FUNCTION tenantcost_priced_usage(timestamptz, timestamptz, text, text, numeric, text[]) IS
'Usage evidence in [p_start, p_end) priced with the book of provider p_provider in force at each hour (among p_books: the stored books that pass validation, so a bad row never prices anything), grouped to p_grain (hour | day | month). compute: CPU seconds x price per vCPU-second; memory: connection-seconds x p_memory_mb / 1000 x price per GB-second (modelled); storage: bytes / 1e9 / hours in that month per hour sampled (GB-months) x price per GB-month; network: egress bytes / 1e9 x price per GB. Amounts rounded once, to 12 decimals.';

-- ---------------------------------------------------------------------------
-- 5. Priced usage per tenant-hour (recent window) and per day (all history).
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tenant_cost_hourly (
    tenant_id  uuid NOT NULL,
    hour       timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour, 'UTC')),
    compute    numeric(30,12) NOT NULL DEFAULT 0,
    memory     numeric(30,12) NOT NULL DEFAULT 0,
    storage    numeric(30,12) NOT NULL DEFAULT 0,
    network    numeric(30,12) NOT NULL DEFAULT 0,
    cost       numeric(30,12) NOT NULL CHECK (cost >= 0),
    storage_gb numeric NULL,
    requests   bigint NOT NULL DEFAULT 0,
    price_book text NULL,
    PRIMARY KEY (tenant_id, hour)
);
CREATE INDEX IF NOT EXISTS tenant_cost_hourly_hour ON tenant_cost_hourly (hour);
COMMENT ON TABLE tenant_cost_hourly IS
'Usage cost per tenant and UTC hour at list prices (tenantcost_priced_usage), with the hour''s storage (GB, decimal) and queries: what tier ceilings and cost-jump alerts compare. Kept for TENANTCOST_HOURLY_COST_RETENTION_DAYS; long windows read tenant_cost_daily.';

CREATE TABLE IF NOT EXISTS tenant_cost_daily (
    day        date NOT NULL,
    line       text NOT NULL CHECK (line IN ('tenant', 'unattributed', 'background')),
    tenant_id  uuid NULL,
    driver     text NOT NULL CHECK (driver IN ('compute', 'memory', 'storage', 'network')),
    source     text NOT NULL,
    kind       text NOT NULL,
    price_book text NOT NULL,
    quantity   numeric NOT NULL,
    unit       text NOT NULL,
    unit_price numeric NOT NULL,
    amount     numeric(30,12) NOT NULL CHECK (amount >= 0),
    CONSTRAINT tenant_cost_daily_line CHECK ((line = 'tenant') = (tenant_id IS NOT NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS tenant_cost_daily_key
    ON tenant_cost_daily (day, line, tenant_id, driver, source, price_book) NULLS NOT DISTINCT;
CREATE INDEX IF NOT EXISTS tenant_cost_daily_tenant ON tenant_cost_daily (tenant_id, day);
COMMENT ON TABLE tenant_cost_daily IS
'Usage cost per UTC day at list prices, one line per tenant (or unattributed / background), driver, source and book. A day is re-priced from tenant_usage_hourly as a whole, so re-running changes nothing. The month''s usage lines in tenant_cost_ledger are their sum.';

-- ---------------------------------------------------------------------------
-- 6. Periods and the ledger: every cost line of a month, once.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tenant_cost_periods (
    period          text PRIMARY KEY CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
    period_start    timestamptz NOT NULL,
    period_end      timestamptz NOT NULL,
    covered_until   timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'provisional' CHECK (status IN ('provisional', 'closed')),
    basis           text NOT NULL CHECK (basis IN ('list_prices', 'host_measured', 'invoice')),
    allocation_rule text NOT NULL,
    overhead_rule   text NOT NULL,
    currency        text NOT NULL DEFAULT 'USD',
    host_total      numeric(30,12) NULL,
    invoice_total   numeric(14,2) NULL,
    list_usage      numeric(30,12) NOT NULL DEFAULT 0,
    tenant_usage    numeric(30,12) NOT NULL DEFAULT 0,
    unattributed    numeric(30,12) NOT NULL DEFAULT 0,
    background      numeric(30,12) NOT NULL DEFAULT 0,
    idle            numeric(30,12) NOT NULL DEFAULT 0 CHECK (idle >= 0),
    scale           numeric NOT NULL DEFAULT 1,
    total           numeric(30,12) NOT NULL DEFAULT 0,
    notes           text[] NOT NULL DEFAULT '{}',
    computed_at     timestamptz NOT NULL DEFAULT now(),
    closed_at       timestamptz NULL,
    closed_by       text NULL,
    close_reason    text NULL,
    CONSTRAINT tenant_cost_periods_bounds CHECK (period_end > period_start
        AND covered_until >= period_start AND covered_until <= period_end),
    CONSTRAINT tenant_cost_periods_closed CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
COMMENT ON TABLE tenant_cost_periods IS
'One row per UTC month attributed: how far it is covered, whether it is provisional or closed (invoice imported, or TENANTCOST_PERIOD_CLOSE_HOURS after its end; reopening is explicit and audited), the basis its usage total comes from (list prices, measured host usage, or the invoice), and attribution quality: list-price usage, what tenants, unattributed and background usage carry, idle (never negative) and the scale applied when attributed usage exceeded the total.';

CREATE TABLE IF NOT EXISTS tenant_cost_ledger (
    period       text NOT NULL REFERENCES tenant_cost_periods (period) ON DELETE CASCADE,
    line         text NOT NULL CHECK (line IN ('tenant', 'unattributed', 'background', 'idle',
                                                'control_plane', 'shared_unallocated',
                                                'no_active_subscription')),
    tenant_id    uuid NULL,
    driver       text NOT NULL CHECK (driver IN ('compute', 'memory', 'storage', 'network',
                                                  'usage', 'vps', 'dedicated_ips', 'shared_vps',
                                                  'shared_ips', 'addons', 'platform_overhead')),
    source       text NOT NULL,
    fidelity     text NOT NULL CHECK (fidelity IN ('measured', 'estimated', 'modelled',
                                                    'allocated', 'approximate', 'remainder')),
    price_book   text NULL,
    quantity     numeric NOT NULL,
    unit         text NOT NULL,
    unit_price   numeric NULL,
    amount       numeric(30,12) NOT NULL CHECK (amount >= 0),
    CONSTRAINT tenant_cost_ledger_tenant CHECK (
        (line IN ('tenant', 'no_active_subscription')) = (tenant_id IS NOT NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS tenant_cost_ledger_key
    ON tenant_cost_ledger (period, line, tenant_id, driver, source, price_book) NULLS NOT DISTINCT;
CREATE INDEX IF NOT EXISTS tenant_cost_ledger_tenant ON tenant_cost_ledger (tenant_id, period);
COMMENT ON TABLE tenant_cost_ledger IS
'Every cost line of a UTC month: per tenant its own VPS and dedicated IPs, its share of shared VPS/IPs (shared_cost_allocation), usage by driver at the book in force (with its source and fidelity), add-on cost and its share of platform overhead (overhead_allocation); and the lines charged to no tenant (shared_unallocated, no_active_subscription, unattributed, background, idle, control_plane). A provisional month is accrued to tenant_cost_periods.covered_until. Sum of the lines = the period''s total. Internal approximation, never billing.';

-- ---------------------------------------------------------------------------
-- 7. The figures: one row per tenant and period, read by every surface.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tenant_period_figures (
    period                   text NOT NULL REFERENCES tenant_cost_periods (period) ON DELETE CASCADE,
    tenant_id                uuid NOT NULL,
    company_name             text NOT NULL,
    plan_name                text NOT NULL,
    tier                     text NULL,
    current_period_start     timestamptz NULL,
    current_period_end       timestamptz NULL,
    subscription_revenue     numeric(30,12) NOT NULL,
    addon_revenue            numeric(30,12) NOT NULL,
    revenue                  numeric(30,12) NOT NULL,
    payments_received        numeric(30,12) NOT NULL,
    vps_cost                 numeric(30,12) NOT NULL,
    shared_vps_cost          numeric(30,12) NOT NULL,
    dedicated_ip_cost        numeric(30,12) NOT NULL,
    shared_ip_cost           numeric(30,12) NOT NULL,
    compute_cost             numeric(30,12) NOT NULL,
    memory_cost              numeric(30,12) NOT NULL,
    storage_cost             numeric(30,12) NOT NULL,
    network_cost             numeric(30,12) NOT NULL,
    addon_cost               numeric(30,12) NOT NULL,
    platform_overhead_cost   numeric(30,12) NOT NULL,
    infrastructure_costs     numeric(30,12) NOT NULL,
    email_service_costs      numeric(30,12) NOT NULL,
    usage_cost               numeric(30,12) NOT NULL,
    total_operational_cost   numeric(30,12) NOT NULL,
    monthly_profit           numeric(30,12) NOT NULL,
    collected_profit         numeric(30,12) NOT NULL,
    gross_margin_ratio       numeric NULL,
    gross_margin_pct         numeric NULL,
    cost_efficiency_score    integer NOT NULL,
    business_health_status   text NOT NULL,
    emails_sent              bigint NOT NULL,
    cost_per_email_delivered numeric NULL,
    business_efficiency_ratio numeric NULL,
    compute_source           text NULL,
    dashboard_date           date NOT NULL,
    refreshed_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (period, tenant_id)
);
CREATE INDEX IF NOT EXISTS idx_executive_business_summary_tenant
    ON tenant_period_figures (tenant_id, period);
CREATE INDEX IF NOT EXISTS idx_executive_business_summary_date
    ON tenant_period_figures (dashboard_date);
CREATE INDEX IF NOT EXISTS idx_business_cost_allocation_tenant
    ON tenant_period_figures (period, tenant_id) INCLUDE (total_operational_cost, revenue);
CREATE INDEX IF NOT EXISTS idx_business_cost_allocation_plan
    ON tenant_period_figures (period, plan_name);
CREATE INDEX IF NOT EXISTS idx_business_cost_allocation_profit
    ON tenant_period_figures (period, monthly_profit) WHERE monthly_profit > 0;
CREATE INDEX IF NOT EXISTS idx_tenant_period_figures_cost
    ON tenant_period_figures (period, total_operational_cost DESC);
CREATE INDEX IF NOT EXISTS idx_tenant_period_figures_score
    ON tenant_period_figures (period, cost_efficiency_score DESC);
COMMENT ON TABLE tenant_period_figures IS
'One row per tenant (company with an active subscription, or with cost lines in the period) and UTC month: revenue (plan price after discounts + add-ons), payments collected (never mixed into profit), cost by driver from tenant_cost_ledger, and the seed''s metrics judged on that full cost. Provisional months are accrued to covered_until. Every report, page, API field, /metrics series, export and tier alert reads these rows; `tenantcost report refresh` recomputes the current period.';

-- Tenant-facing isolation on the figures, exactly as on the base tables (FORCE: the owner too).
ALTER TABLE tenant_period_figures ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_period_figures FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON tenant_period_figures;
CREATE POLICY tenant_isolation ON tenant_period_figures FOR SELECT TO application_service
    USING (tenant_id = tenantcost_current_tenant());
DROP POLICY IF EXISTS internal_read_all ON tenant_period_figures;
CREATE POLICY internal_read_all ON tenant_period_figures FOR SELECT TO business_analysts
    USING (true);
DROP POLICY IF EXISTS dba_all ON tenant_period_figures;
CREATE POLICY dba_all ON tenant_period_figures FOR ALL TO db_administrators
    USING (true) WITH CHECK (true);

-- The month every surface shows by default (the seed's views, reports, pages, API): the
-- latest attributed month that covers at least a week — early in a month that is the month
-- before, which is complete — else simply the latest (NULL before any). SECURITY DEFINER:
-- tenant-facing roles read the month's key, never the periods table itself.
CREATE OR REPLACE FUNCTION tenantcost_latest_period() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT COALESCE(
        (SELECT max(period) FROM tenant_cost_periods
          WHERE covered_until >= period_start + interval '7 days'
             OR covered_until >= period_end),
        (SELECT max(period) FROM tenant_cost_periods))
$$;
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION tenantcost_latest_period() SET search_path = %I, pg_temp',
                   current_schema());
END
$$;
REVOKE ALL ON FUNCTION tenantcost_latest_period() FROM PUBLIC;
COMMENT ON FUNCTION tenantcost_latest_period() IS
'The month shown by default (YYYY-MM): the latest attributed month covering at least 7 days (or all of itself), else the latest attributed month.';

-- ---------------------------------------------------------------------------
-- 8. The seed's views (names and columns kept), now projections of the figures.
-- ---------------------------------------------------------------------------
CREATE VIEW executive_business_summary WITH (security_invoker = true) AS
SELECT f.tenant_id, f.company_name, f.plan_name, f.current_period_start, f.current_period_end,
       f.revenue AS monthly_subscription_revenue, f.infrastructure_costs, f.email_service_costs,
       f.gross_margin_ratio, f.cost_efficiency_score, f.total_operational_cost,
       f.business_health_status, f.dashboard_date, f.monthly_profit, f.gross_margin_pct,
       f.usage_cost, f.addon_cost, f.platform_overhead_cost, f.period
  FROM tenant_period_figures f
 WHERE f.period = tenantcost_latest_period();

CREATE VIEW business_cost_allocation WITH (security_invoker = true) AS
SELECT f.tenant_id, f.company_name, f.plan_name, f.revenue AS price_monthly,
       f.infrastructure_costs AS total_infrastructure_cost,
       f.email_service_costs AS total_email_service_cost,
       f.cost_per_email_delivered,
       f.total_operational_cost AS total_monthly_cost,
       f.monthly_profit,
       f.business_efficiency_ratio,
       f.emails_sent,
       f.payments_received,
       f.collected_profit,
       f.usage_cost, f.period
  FROM tenant_period_figures f
 WHERE f.period = tenantcost_latest_period();

CREATE VIEW shared_infrastructure_cost WITH (security_invoker = true) AS
SELECT l.line, l.tenant_id, co.name AS company_name,
       sum(l.amount) FILTER (WHERE l.driver IN ('vps', 'shared_vps')) AS infrastructure_cost,
       sum(l.amount) FILTER (WHERE l.driver IN ('dedicated_ips', 'shared_ips')) AS email_service_cost,
       sum(l.amount) AS total_cost,
       p.allocation_rule, l.period
  FROM tenant_cost_ledger l
  JOIN tenant_cost_periods p ON p.period = l.period
  LEFT JOIN companies co ON co.id = l.tenant_id
 WHERE l.period = tenantcost_latest_period()
   AND l.line IN ('shared_unallocated', 'no_active_subscription')
 GROUP BY l.line, l.tenant_id, co.name, p.allocation_rule, l.period;

-- What application_service read before: the same rows, isolated by RLS on the figures.
CREATE VIEW tenant_business_rollup WITH (security_invoker = true) AS
SELECT * FROM executive_business_summary;
CREATE VIEW tenant_cost_allocation_rollup WITH (security_invoker = true) AS
SELECT * FROM business_cost_allocation;

COMMENT ON VIEW executive_business_summary IS
'Seed 000 executive summary for the latest period (tenant_period_figures): revenue against the FULL cost (own and shared VPS/IPs, usage, add-ons, platform overhead). Internal approximation, not billing.';
COMMENT ON VIEW business_cost_allocation IS
'Seed 000 cost allocation for the latest period (tenant_period_figures). monthly_profit is revenue - cost as in executive_business_summary; the payments-based figure is collected_profit. Internal approximation, not billing.';
COMMENT ON VIEW shared_infrastructure_cost IS
'Fixed cost charged to no tenant in the latest period: shared_unallocated (shared VPS/IPs not allocated under the rule) and no_active_subscription (resources of companies without an active subscription).';
COMMENT ON VIEW tenant_business_rollup IS
'Kept for applications that read it: executive_business_summary, isolated by RLS on tenant_period_figures.';
COMMENT ON VIEW tenant_cost_allocation_rollup IS
'Kept for applications that read it: business_cost_allocation, isolated by RLS on tenant_period_figures.';

COMMENT ON COLUMN executive_business_summary.monthly_subscription_revenue IS 'Revenue of the period: Σ plan price after discounts + add-ons over active subscriptions (accrued to covered_until for a provisional month).';
COMMENT ON COLUMN executive_business_summary.infrastructure_costs IS 'Own active VPS + allocated share of shared VPS, for the period.';
COMMENT ON COLUMN executive_business_summary.email_service_costs IS 'Own billable IPs + allocated share of shared IPs, for the period.';
COMMENT ON COLUMN executive_business_summary.total_operational_cost IS 'The full cost: infrastructure + email service + usage (compute, memory, storage, network) + add-on cost + platform overhead share. Payments are never cost.';
COMMENT ON COLUMN executive_business_summary.gross_margin_ratio IS 'revenue / cost; NULL (n/a) when the cost is 0.';
COMMENT ON COLUMN executive_business_summary.cost_efficiency_score IS 'gross_margin_pct clamped to 0..100, rounded half up; 0 when revenue is 0.';
COMMENT ON COLUMN executive_business_summary.business_health_status IS 'Excellent when revenue > 2 x cost, Good > 1.5 x, Monitor > 1 x, else Critical Action Required.';
COMMENT ON COLUMN executive_business_summary.monthly_profit IS 'revenue - total_operational_cost.';
COMMENT ON COLUMN business_cost_allocation.monthly_profit IS 'revenue - total_monthly_cost (same as executive_business_summary.monthly_profit; the seed used payments here, now collected_profit).';
COMMENT ON COLUMN business_cost_allocation.collected_profit IS 'payments_received - total_monthly_cost.';
COMMENT ON COLUMN business_cost_allocation.business_efficiency_ratio IS 'payments_received / total_monthly_cost; NULL (n/a) when the cost is 0.';
COMMENT ON COLUMN business_cost_allocation.cost_per_email_delivered IS 'total_monthly_cost / emails_sent in the period; NULL when no email was sent.';

-- Tier evaluation's per-hour figures.
CREATE VIEW tenant_hourly_cost WITH (security_invoker = true) AS
SELECT h.tenant_id, h.hour, h.cost, h.storage_gb, h.requests
  FROM tenant_cost_hourly h;
COMMENT ON VIEW tenant_hourly_cost IS
'Per tenant and hour: usage cost at list prices, storage GB and queries - what tier ceilings are compared with.';

-- ---------------------------------------------------------------------------
-- 9. Staleness: changes to what the figures are computed from, counted without locks.
-- ---------------------------------------------------------------------------
CREATE SEQUENCE IF NOT EXISTS tenantcost_cost_input_changes;
-- SECURITY DEFINER: the application's own roles write these tables and need no grant for it.
CREATE OR REPLACE FUNCTION tenantcost_note_cost_input_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM nextval(format('%I.tenantcost_cost_input_changes', TG_TABLE_SCHEMA)::regclass);
    RETURN NULL;
END
$$;
-- On Citus, tables already distributed or reference tables carry no trigger (unsupported on
-- reference tables; on distributed ones it would run on the workers' shards, away from this
-- sequence): changes there are not counted, the figures are recomputed by every collector
-- pass and `report refresh` instead.
DO $$
DECLARE
    t text;
    citus_tables text[] := '{}';
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT COALESCE(array_agg(logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition$q$ INTO citus_tables;
    END IF;
    FOREACH t IN ARRAY ARRAY['companies', 'plans', 'subscriptions', 'payments',
                             'billing_analytics', 'vps_instances', 'smtp_ip_addresses',
                             'cost_settings', 'addons', 'subscription_addons',
                             'subscription_terms', 'plan_tiers', 'price_books', 'host_invoices'] LOOP
        CONTINUE WHEN t = ANY (citus_tables);
        EXECUTE format('DROP TRIGGER IF EXISTS tenantcost_cost_input_change ON %I', t);
        EXECUTE format('CREATE TRIGGER tenantcost_cost_input_change AFTER INSERT OR UPDATE OR '
                       'DELETE OR TRUNCATE ON %I FOR EACH STATEMENT '
                       'EXECUTE FUNCTION tenantcost_note_cost_input_change()', t);
    END LOOP;
END
$$;
CREATE TABLE IF NOT EXISTS tenantcost_refresh_state (
    id           integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    refreshed_at timestamptz NOT NULL,
    changes_seen bigint NOT NULL
);
COMMENT ON TABLE tenantcost_refresh_state IS
'When the figures were last recomputed and the value of tenantcost_cost_input_changes then: a higher value now means changes the figures do not show yet.';

-- ---------------------------------------------------------------------------
-- 10. Grants.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tenantcost_apply_grants() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    -- Tenant-facing: security_invoker views over RLS-protected tables.
    FOREACH v IN ARRAY ARRAY['business_cost_allocation', 'executive_business_summary',
                             'tenant_business_rollup', 'tenant_cost_allocation_rollup',
                             'tenant_period_figures'] LOOP
        IF to_regclass(v) IS NOT NULL THEN
            EXECUTE format('GRANT SELECT ON %I TO business_analysts, application_service', v);
            EXECUTE format('GRANT ALL ON %I TO db_administrators', v);
        END IF;
    END LOOP;
    -- Internal only (no RLS): the ledger, periods and the shared cost lines.
    FOREACH v IN ARRAY ARRAY['shared_infrastructure_cost', 'tenant_cost_ledger',
                             'tenant_cost_periods', 'tenant_cost_daily', 'tenant_cost_hourly',
                             'tenant_hourly_cost', 'tenant_subscription_revenue',
                             'tenant_monthly_revenue', 'tenantcost_refresh_state'] LOOP
        IF to_regclass(v) IS NOT NULL THEN
            EXECUTE format('REVOKE ALL ON %I FROM PUBLIC, application_service', v);
            EXECUTE format('GRANT SELECT ON %I TO business_analysts', v);
            EXECUTE format('GRANT ALL ON %I TO db_administrators', v);
        END IF;
    END LOOP;
END
$$;
SELECT tenantcost_apply_grants();
REVOKE ALL ON FUNCTION tenantcost_note_cost_input_change() FROM PUBLIC;
GRANT SELECT ON SEQUENCE tenantcost_cost_input_changes TO business_analysts, db_administrators;
GRANT EXECUTE ON FUNCTION tenantcost_latest_period() TO business_analysts, application_service, db_administrators;
