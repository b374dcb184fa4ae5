-- ============================================================================
-- ENHANCEMENT 2: SMTP IP Addresses Cost Tracking (seed 000 step 2)
-- ============================================================================
-- Deliverability cost analysis and email service ROI. Idempotent.

ALTER TABLE smtp_ip_addresses
ADD COLUMN IF NOT EXISTS approximate_cost DECIMAL(6,2) DEFAULT 0.00;

COMMENT ON COLUMN smtp_ip_addresses.approximate_cost IS
'Internally maintained estimated monthly cost in USD per SMTP IP address used for deliverability and cost-efficiency analysis.
Not authoritative billing; values are modeled/allocated by Finance & Operations.';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conname = 'chk_smtp_approximate_cost_positive'
                      AND conrelid = 'smtp_ip_addresses'::regclass) THEN
        ALTER TABLE smtp_ip_addresses
        ADD CONSTRAINT chk_smtp_approximate_cost_positive
        CHECK (approximate_cost >= 0);
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS idx_smtp_ip_addresses_approximate_cost
ON smtp_ip_addresses(approximate_cost) WHERE status IN ('active', 'warmed', 'warming');

ALTER TABLE smtp_ip_addresses
    ADD COLUMN IF NOT EXISTS cost_source     text NULL,
    ADD COLUMN IF NOT EXISTS cost_override   boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS cost_updated_at timestamptz NULL;

COMMENT ON COLUMN smtp_ip_addresses.cost_source IS
'Where approximate_cost came from: setting (the smtp_ip_monthly_cost constant), override (set by Finance), manual.';
COMMENT ON COLUMN smtp_ip_addresses.cost_override IS
'True when Finance set approximate_cost for this record; a change of the constant leaves it alone.';

-- New or re-activated IPs in a billable status carry the configured constant unless
-- Finance overrode the record.
CREATE OR REPLACE FUNCTION tenantcost_smtp_ip_default_cost() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    constant numeric;
BEGIN
    IF NOT NEW.cost_override AND NEW.status IN ('active', 'warmed', 'warming') THEN
        SELECT value::numeric INTO constant
          FROM cost_settings WHERE key = 'smtp_ip_monthly_cost';
        IF constant IS NOT NULL AND NEW.approximate_cost IS DISTINCT FROM constant THEN
            NEW.approximate_cost := constant;
            NEW.cost_source := 'setting';
            NEW.cost_updated_at := now();
        END IF;
    END IF;
    RETURN NEW;
END
$$;

-- On Citus, where smtp_ip_addresses is a reference table (a copy on every node), triggers
-- are not supported. There the same rule is kept by the writer and checked: new IPs get the
-- constant as their column default (tenantcost_smtp_ip_monthly_cost(), evaluated on the
-- coordinator for each INSERT), `costs set` re-prices every billable IP, and `db verify`
-- fails on any billable IP without an override whose cost is not the constant (with the count).
DO $$
DECLARE
    reference boolean := false;
    constant  numeric;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
                                   WHERE logicalrelid = 'smtp_ip_addresses'::regclass
                                     AND partmethod = 'n')$q$ INTO reference;
    END IF;
    IF NOT reference THEN
        DROP TRIGGER IF EXISTS trg_smtp_ip_default_cost ON smtp_ip_addresses;
        CREATE TRIGGER trg_smtp_ip_default_cost
            BEFORE INSERT OR UPDATE OF status, cost_override ON smtp_ip_addresses
            FOR EACH ROW EXECUTE FUNCTION tenantcost_smtp_ip_default_cost();
        -- Price the IPs that already exist.
        UPDATE smtp_ip_addresses
           SET approximate_cost = (SELECT value::numeric FROM cost_settings
                                    WHERE key = 'smtp_ip_monthly_cost'),
               cost_source = 'setting',
               cost_updated_at = now()
         WHERE NOT cost_override
           AND status IN ('active', 'warmed', 'warming')
           AND approximate_cost IS DISTINCT FROM
               (SELECT value::numeric FROM cost_settings WHERE key = 'smtp_ip_monthly_cost');
        RETURN;
    END IF;
    DROP FUNCTION tenantcost_smtp_ip_default_cost();
    CREATE OR REPLACE FUNCTION tenantcost_smtp_ip_monthly_cost() RETURNS numeric
    LANGUAGE sql STABLE AS $f$
        SELECT COALESCE((SELECT value::numeric FROM cost_settings
                          WHERE key = 'smtp_ip_monthly_cost'), 0.00)
    $f$;
    COMMENT ON FUNCTION tenantcost_smtp_ip_monthly_cost() IS
    'The smtp_ip_monthly_cost constant: the default of smtp_ip_addresses.approximate_cost on Citus, where the pricing trigger cannot exist on a reference table.';
    ALTER TABLE smtp_ip_addresses
        ALTER COLUMN approximate_cost SET DEFAULT tenantcost_smtp_ip_monthly_cost(),
        ALTER COLUMN cost_source SET DEFAULT 'setting';
    SELECT value::numeric INTO constant FROM cost_settings WHERE key = 'smtp_ip_monthly_cost';
    UPDATE smtp_ip_addresses
       SET approximate_cost = constant, cost_source = 'setting', cost_updated_at = now()
     WHERE NOT cost_override
       AND status IN ('active', 'warmed', 'warming')
       AND approximate_cost IS DISTINCT FROM constant;
END
$$;

