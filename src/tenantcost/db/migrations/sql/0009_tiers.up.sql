-- Tier economics (seed 002 sections 6.4, 7, 8, 10, 11, 12).

CREATE TABLE IF NOT EXISTS tiers (
    name                      text PRIMARY KEY CHECK (name ~ '^[A-Z][A-Z0-9_]*$'),
    monthly_price             numeric(10,2) NOT NULL CHECK (monthly_price >= 0),
    cost_ceiling              numeric(12,4) NOT NULL CHECK (cost_ceiling > 0),
    storage_gb_ceiling        numeric(12,3) NULL CHECK (storage_gb_ceiling > 0),
    requests_per_hour_ceiling integer NULL CHECK (requests_per_hour_ceiling > 0),
    latency_target_ms         integer NULL CHECK (latency_target_ms > 0),
    margin_floor_pct          numeric(5,2) NOT NULL DEFAULT 70 CHECK (margin_floor_pct BETWEEN 0 AND 100),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    updated_by                text NOT NULL DEFAULT current_user
);
COMMENT ON COLUMN tiers.cost_ceiling IS
'Monthly attributed cost a tenant of this tier may run at (seed 002 6.4: FREE 0.20, STARTER 1, PRO 5, ENTERPRISE 25 USD).';

-- Seed 002 8.1 (price and resource ceilings) and 6.4 (cost ceilings). ENTERPRISE's
-- "guaranteed resources" has no latency number, so it stays NULL.
INSERT INTO tiers (name, monthly_price, cost_ceiling, storage_gb_ceiling,
                   requests_per_hour_ceiling, latency_target_ms)
VALUES ('FREE', 0, 0.20, 0.1, 10, 2000),
       ('STARTER', 5, 1.00, 2, 50, 200),
       ('PRO', 25, 5.00, 10, 500, 10),
       ('ENTERPRISE', 100, 25.00, 100, 5000, NULL)
ON CONFLICT (name) DO NOTHING;

CREATE TABLE IF NOT EXISTS plan_tiers (
    plan_id uuid PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
    tier    text NOT NULL REFERENCES tiers (name) ON UPDATE CASCADE
);
COMMENT ON TABLE plan_tiers IS 'Which tier (ceilings) governs the tenants on each plan.';

-- The state machine's memory per tenant, so evaluation resumes hour after hour.
CREATE TABLE IF NOT EXISTS tier_state (
    tenant_id           uuid PRIMARY KEY,
    level               text NOT NULL DEFAULT 'normal',
    hours_over          integer NOT NULL DEFAULT 0,
    hours_calling_lower integer NOT NULL DEFAULT 0,
    episode_since       timestamptz NULL,
    since               timestamptz NULL,
    last_hour           timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS tier_decisions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    tier          text NOT NULL,
    hour          timestamptz NOT NULL,
    from_level    text NOT NULL,
    to_level      text NOT NULL,
    ceiling       text NOT NULL,
    figure        numeric NOT NULL,
    ceiling_value numeric NOT NULL,
    ratio         numeric NOT NULL,
    episode_since timestamptz NULL,
    decided_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz NULL,
    delivery      text NOT NULL DEFAULT 'pending',
    UNIQUE (tenant_id, hour)
);
CREATE INDEX IF NOT EXISTS idx_tier_decisions_active ON tier_decisions (tenant_id) WHERE ended_at IS NULL;
COMMENT ON TABLE tier_decisions IS
'Signals for other systems (suggest_upgrade / soft_throttle / hard_throttle / normal) with their evidence; tenantcost never throttles itself.';

CREATE TABLE IF NOT EXISTS tier_alerts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL,
    subject      text NOT NULL,
    opened_at    timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    closed_at    timestamptz NULL,
    message      text NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}',
    delivery     text NOT NULL DEFAULT 'pending'
);
-- One open alert per (kind, subject): an episode alerts once, not every hour.
CREATE UNIQUE INDEX IF NOT EXISTS uq_tier_alerts_open ON tier_alerts (kind, subject) WHERE closed_at IS NULL;

CREATE TABLE IF NOT EXISTS tenant_signups (
    tenant_id    uuid PRIMARY KEY,
    email_domain text NOT NULL,
    signup_ip    inet NULL,
    signed_up_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_tenant_signups_domain ON tenant_signups (email_domain);
CREATE INDEX IF NOT EXISTS idx_tenant_signups_ip ON tenant_signups (signup_ip);

-- Seed 002 section 8: add-ons and pricing levers, as data.
CREATE TABLE IF NOT EXISTS addons (
    name          text PRIMARY KEY,
    monthly_price numeric(10,2) NOT NULL CHECK (monthly_price >= 0),
    monthly_cost  numeric(10,4) NOT NULL CHECK (monthly_cost >= 0),
    unit          text NOT NULL DEFAULT 'month',
    description   text NOT NULL DEFAULT ''
);
INSERT INTO addons (name, monthly_price, monthly_cost, unit, description) VALUES
    ('burst_scaling', 30.00, 4.75, 'month',
     'PRO to ENTERPRISE elevation during peaks; cost from seed 002 9 B (171 USD for 36 tenants).'),
    ('extra_storage', 0.50, 0.25, 'GB-month',
     'Storage beyond the tier limit; cost = the host storage rate (seed 002: 0.25).'),
    ('priority_support', 20.00, 1.00, 'month',
     'Priority support; cost implied by the seed''s 95 percent margin.')
ON CONFLICT (name) DO NOTHING;

CREATE TABLE IF NOT EXISTS subscription_addons (
    subscription_id uuid NOT NULL,
    addon           text NOT NULL REFERENCES addons (name),
    quantity        numeric(10,2) NOT NULL DEFAULT 1 CHECK (quantity > 0),
    PRIMARY KEY (subscription_id, addon)
);

CREATE TABLE IF NOT EXISTS subscription_terms (
    subscription_id uuid PRIMARY KEY,
    annual_prepay   boolean NOT NULL DEFAULT false,
    multi_project   boolean NOT NULL DEFAULT false
);

-- Both follow their subscription (ON DELETE CASCADE). On Citus, where subscriptions is
-- distributed by tenant, subscriptions(id) is no unique key and a cascade from the workers'
-- shards would never reach these coordinator tables: there they carry no key, and
-- `db verify` fails on rows whose subscription is gone ("Citus: no orphaned rows"). The same
-- on PostgreSQL when the application keys subscriptions by (tenant_id, id) (the shape it takes
-- to move to Citus): no key references subscriptions(id), and `db verify` counts the orphans.
DO $$
DECLARE
    t text;
    distributed boolean := false;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
                                   WHERE logicalrelid = 'subscriptions'::regclass)$q$
           INTO distributed;
    END IF;
    IF distributed OR NOT EXISTS (
        SELECT 1 FROM pg_index i
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = 'subscriptions'::regclass AND i.indisunique
           AND i.indnkeyatts = 1 AND i.indpred IS NULL AND a.attname = 'id') THEN
        RETURN;
    END IF;
    FOREACH t IN ARRAY ARRAY['subscription_addons', 'subscription_terms'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_constraint
                        WHERE conname = t || '_subscription_id_fkey'
                          AND conrelid = t::regclass) THEN
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (subscription_id) '
                           'REFERENCES subscriptions (id) ON DELETE CASCADE',
                           t, t || '_subscription_id_fkey');
        END IF;
    END LOOP;
END
$$;

INSERT INTO cost_settings (key, value, description) VALUES
    ('annual_prepay_discount_pct', '15', 'Seed 002 8.2: annual pre-pay discount, percent.'),
    ('multi_project_discount_pct', '10', 'Seed 002 8.2: organisations with 5+ projects, percent.'),
    ('tier_step_down_hours', '6', 'Hours back under a ceiling before a tier signal steps down.'),
    ('tenant_outlier_pct', '150', 'Alert when a tenant costs this percent of its tier average.'),
    ('free_abuse_threshold', '3', 'FREE tenants sharing an email domain or signup IP before it is flagged.')
ON CONFLICT (key) DO NOTHING;

-- What tier evaluation reads per tenant and hour: the hour's bottom-up attributed cost from
-- the ledger (the collector prices each hour), storage (GB, decimal) and query count from
-- the hourly usage rollup, each metric from its best source (telemetry_metrics.priority;
-- storage sources add up, as in tenant_resource_usage).
CREATE OR REPLACE VIEW tenant_hourly_cost WITH (security_invoker = true) AS
WITH cost AS (
    SELECT tenant_id, period_start AS hour, sum(amount) AS cost
      FROM tenant_cost_ledger
     WHERE mode = 'bottom_up' AND line = 'tenant'
       AND period_end = period_start + interval '1 hour'
     GROUP BY tenant_id, period_start
), chosen AS (
    SELECT DISTINCT ON (u.tenant_id, u.hour, u.metric,
                        CASE WHEN u.metric = 'storage_bytes' THEN u.source END)
           u.tenant_id, u.hour, u.metric, u.quantity
      FROM tenant_usage_hourly u
      JOIN telemetry_metrics m USING (metric, source)
     WHERE u.tenant_id IS NOT NULL AND u.metric IN ('storage_bytes', 'query_count')
     ORDER BY u.tenant_id, u.hour, u.metric,
              CASE WHEN u.metric = 'storage_bytes' THEN u.source END, m.priority
), used AS (
    SELECT tenant_id, hour,
           sum(quantity) FILTER (WHERE metric = 'storage_bytes') / 1000000000 AS storage_gb,
           sum(quantity) FILTER (WHERE metric = 'query_count') AS requests
      FROM chosen
     GROUP BY tenant_id, hour
)
SELECT coalesce(c.tenant_id, u.tenant_id) AS tenant_id,
       coalesce(c.hour, u.hour) AS hour,
       coalesce(c.cost, 0) AS cost,
       u.storage_gb,
       coalesce(u.requests, 0)::bigint AS requests
  FROM cost c
  FULL JOIN used u ON u.tenant_id = c.tenant_id AND u.hour = c.hour;
COMMENT ON VIEW tenant_hourly_cost IS
'Per tenant and hour: bottom-up attributed cost (ledger), storage GB and queries (usage rollup) - the figures tier ceilings are compared with.';

-- A tenant's monthly revenue for tier economics. As in seed 002, a tier is what the tenant
-- buys: revenue is the tier's price after the tenant's discounts (applied one after the
-- other), plus add-ons; add-on cost is carried along for margins. The plan's own price is
-- kept beside it (the executive BI views price tenants at their plan's price).
CREATE OR REPLACE VIEW tenant_monthly_revenue WITH (security_invoker = true) AS
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
), priced AS (
    SELECT s.tenant_id, s.id AS subscription_id, p.name AS plan_name, pt.tier,
           p.price_monthly AS plan_price, t.monthly_price AS tier_price,
           round(t.monthly_price
                 * (1 - CASE WHEN st.annual_prepay THEN d.annual / 100 ELSE 0 END)
                 * (1 - CASE WHEN st.multi_project THEN d.multi / 100 ELSE 0 END), 2)
             AS subscription_revenue,
           coalesce(e.addon_revenue, 0) AS addon_revenue,
           coalesce(e.addon_cost, 0) AS addon_cost
      FROM subscriptions s
      JOIN plans p ON p.id = s.plan_id
      JOIN plan_tiers pt ON pt.plan_id = p.id
      JOIN tiers t ON t.name = pt.tier
      CROSS JOIN discount d
      LEFT JOIN subscription_terms st ON st.subscription_id = s.id
      LEFT JOIN extras e ON e.subscription_id = s.id
     WHERE s.status = 'active'
)
SELECT *, subscription_revenue + addon_revenue AS revenue FROM priced;
COMMENT ON VIEW tenant_monthly_revenue IS
'Per active, tiered subscription: plan and tier price, tier price after annual pre-pay and multi-project discounts (multiplied), add-on revenue and cost.';

GRANT SELECT ON tiers, plan_tiers, tier_state, tier_decisions, tier_alerts, tenant_signups,
                addons, subscription_addons, subscription_terms, tenant_monthly_revenue,
                tenant_hourly_cost
      TO business_analysts;  -- internal only: no RLS here, so never to application_service
GRANT ALL ON tiers, plan_tiers, tier_state, tier_decisions, tier_alerts, tenant_signups,
             addons, subscription_addons, subscription_terms, tenant_monthly_revenue,
             tenant_hourly_cost TO db_administrators;
