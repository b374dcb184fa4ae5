-- Seed rollback for step 2: indexes, constraints and the pricing trigger go; data stays.
DROP TRIGGER IF EXISTS trg_smtp_ip_default_cost ON smtp_ip_addresses;
DROP FUNCTION IF EXISTS tenantcost_smtp_ip_default_cost();
DROP INDEX IF EXISTS idx_smtp_ip_addresses_approximate_cost;
ALTER TABLE smtp_ip_addresses DROP CONSTRAINT IF EXISTS chk_smtp_approximate_cost_positive;
