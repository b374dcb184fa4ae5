-- LAST RESORT (--drop-data): permanently removes the cost data.
ALTER TABLE smtp_ip_addresses
    DROP COLUMN IF EXISTS approximate_cost,
    DROP COLUMN IF EXISTS cost_source,
    DROP COLUMN IF EXISTS cost_override,
    DROP COLUMN IF EXISTS cost_updated_at;
