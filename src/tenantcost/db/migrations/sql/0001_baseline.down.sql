-- The business tables are never dropped by tenantcost: they may have existed before it.
DROP INDEX IF EXISTS idx_tc_vps_instances_tenant;
DROP INDEX IF EXISTS idx_tc_smtp_ip_addresses_tenant;
DROP INDEX IF EXISTS idx_tc_smtp_ip_addresses_vps;
DROP INDEX IF EXISTS idx_tc_subscriptions_tenant;
DROP INDEX IF EXISTS idx_tc_payments_subscription;
DROP INDEX IF EXISTS idx_tc_billing_analytics_sub;
