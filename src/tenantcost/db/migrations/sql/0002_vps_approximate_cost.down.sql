-- Seed rollback for step 1: indexes and constraints go, the column and its data stay.
DROP INDEX IF EXISTS idx_vps_instances_approximate_cost;
ALTER TABLE vps_instances DROP CONSTRAINT IF EXISTS chk_vps_approximate_cost_positive;
