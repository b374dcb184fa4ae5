-- tenantcost baseline: the seven PenguinMails tables the seed's SQL reads.
-- Created when absent; adopted unchanged when an existing database already has them
-- (extra columns are fine). A table that lacks a column the seed's SQL uses stops the
-- migration with a message naming it.

CREATE TABLE IF NOT EXISTS companies (
    id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL
);

CREATE TABLE IF NOT EXISTS plans (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL,
    price_monthly numeric(10,2) NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS subscriptions (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            uuid NOT NULL REFERENCES companies (id),
    plan_id              uuid NOT NULL REFERENCES plans (id),
    status               text NOT NULL DEFAULT 'active',
    current_period_start timestamptz NOT NULL,
    current_period_end   timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS payments (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id      uuid NOT NULL REFERENCES subscriptions (id),
    amount               numeric(12,2) NOT NULL,
    billing_period_start timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS billing_analytics (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id uuid NOT NULL REFERENCES subscriptions (id),
    period_start    timestamptz NOT NULL,
    emails_sent     bigint NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS vps_instances (
    id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name   text,
    status text NOT NULL DEFAULT 'active'
);

CREATE TABLE IF NOT EXISTS smtp_ip_addresses (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    vps_instance_id uuid REFERENCES vps_instances (id),
    ip_address      text,
    status          text NOT NULL DEFAULT 'active'
);

-- Adopting an existing schema: every column the seed's SQL reads must be there.
DO $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(format('%s.%s', need.tbl, need.col), ', ')
      INTO missing
      FROM (VALUES ('companies', 'id'), ('companies', 'name'),
                   ('plans', 'id'), ('plans', 'name'), ('plans', 'price_monthly'),
                   ('subscriptions', 'id'), ('subscriptions', 'tenant_id'),
                   ('subscriptions', 'plan_id'), ('subscriptions', 'status'),
                   ('subscriptions', 'current_period_start'),
                   ('subscriptions', 'current_period_end'),
                   ('payments', 'id'), ('payments', 'subscription_id'), ('payments', 'amount'),
                   ('payments', 'billing_period_start'),
                   ('billing_analytics', 'id'), ('billing_analytics', 'subscription_id'),
                   ('billing_analytics', 'period_start'), ('billing_analytics', 'emails_sent'),
                   ('vps_instances', 'id'), ('vps_instances', 'status'),
                   ('smtp_ip_addresses', 'id'), ('smtp_ip_addresses', 'vps_instance_id'),
                   ('smtp_ip_addresses', 'status')) AS need (tbl, col)
     WHERE NOT EXISTS (
           SELECT 1 FROM information_schema.columns c
            WHERE c.table_schema = current_schema()
              AND c.table_name = need.tbl AND c.column_name = need.col);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'existing tables lack columns the seed''s SQL uses: %', missing
              USING HINT = 'add these columns (or point TENANTCOST_DATABASE_URL at the right database) and run the upgrade again';
    END IF;
END
$$;

-- Which tenant owns a resource; NULL means shared infrastructure.
ALTER TABLE vps_instances     ADD COLUMN IF NOT EXISTS tenant_id uuid NULL;
ALTER TABLE smtp_ip_addresses ADD COLUMN IF NOT EXISTS tenant_id uuid NULL;
COMMENT ON COLUMN vps_instances.tenant_id IS
'Tenant (companies.id) that owns this VPS; NULL = shared infrastructure, allocated by the configured rule.';
COMMENT ON COLUMN smtp_ip_addresses.tenant_id IS
'Tenant (companies.id) that owns this IP directly; NULL = owned through its VPS, or shared.';

-- Lookups the per-tenant aggregations need (no-ops when the indexes exist).
CREATE INDEX IF NOT EXISTS idx_tc_vps_instances_tenant       ON vps_instances (tenant_id);
CREATE INDEX IF NOT EXISTS idx_tc_smtp_ip_addresses_tenant   ON smtp_ip_addresses (tenant_id);
CREATE INDEX IF NOT EXISTS idx_tc_smtp_ip_addresses_vps      ON smtp_ip_addresses (vps_instance_id);
CREATE INDEX IF NOT EXISTS idx_tc_subscriptions_tenant       ON subscriptions (tenant_id);
CREATE INDEX IF NOT EXISTS idx_tc_payments_subscription      ON payments (subscription_id, billing_period_start);
CREATE INDEX IF NOT EXISTS idx_tc_billing_analytics_sub      ON billing_analytics (subscription_id, period_start);
