-- LAST RESORT (--drop-data): permanently removes the cost data.
ALTER TABLE vps_instances
    DROP COLUMN IF EXISTS approximate_cost,
    DROP COLUMN IF EXISTS hostwinds_service_id,
    DROP COLUMN IF EXISTS hostwinds_plan_id,
    DROP COLUMN IF EXISTS billing_cycle,
    DROP COLUMN IF EXISTS hostwinds_config,
    DROP COLUMN IF EXISTS cost_source,
    DROP COLUMN IF EXISTS cost_override,
    DROP COLUMN IF EXISTS cost_updated_at;
