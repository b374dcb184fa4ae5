-- ============================================================================
-- ENHANCEMENT 1: VPS Instances Cost Tracking (seed 000 step 1 / seed 001)
-- ============================================================================
-- Internal-only reference for Hostwinds VPS costs, maintained by Finance & Operations.
-- Not an authoritative or itemized billing source for customers. Idempotent.

ALTER TABLE vps_instances
ADD COLUMN IF NOT EXISTS approximate_cost DECIMAL(8,2) DEFAULT 0.00;

COMMENT ON COLUMN vps_instances.approximate_cost IS
'Estimated monthly cost in USD for this Hostwinds VPS instance, derived from Hostwinds pricing APIs
(get_price_list, get_billingcycle_prices, upgrade_instance) using the active plan/specs and billing cycle.
Primary intent: track Hostwinds-related infrastructure spend per instance for internal ROI/margin analysis.
Not authoritative customer billing; final invoices remain in Finance systems.';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conname = 'chk_vps_approximate_cost_positive'
                      AND conrelid = 'vps_instances'::regclass) THEN
        ALTER TABLE vps_instances
        ADD CONSTRAINT chk_vps_approximate_cost_positive
        CHECK (approximate_cost >= 0);
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS idx_vps_instances_approximate_cost
ON vps_instances(approximate_cost) WHERE status = 'active';

-- Where each cost came from, so sync, overrides and audits can tell them apart.
ALTER TABLE vps_instances
    ADD COLUMN IF NOT EXISTS hostwinds_service_id text NULL,
    ADD COLUMN IF NOT EXISTS hostwinds_plan_id    text NULL,
    ADD COLUMN IF NOT EXISTS billing_cycle        text NULL,
    ADD COLUMN IF NOT EXISTS hostwinds_config     jsonb NULL,
    ADD COLUMN IF NOT EXISTS cost_source          text NULL,
    ADD COLUMN IF NOT EXISTS cost_override        boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS cost_updated_at      timestamptz NULL;

COMMENT ON COLUMN vps_instances.cost_source IS
'Where approximate_cost came from: hostwinds (API sync), override (set by Finance), manual.';
COMMENT ON COLUMN vps_instances.cost_override IS
'True when Finance set approximate_cost by hand; syncs and reconciliations leave it alone.';
