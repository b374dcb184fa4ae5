-- Revision 0025: the tenant page's "last 12 months" (web/queries.sql tenant_monthly) sums a
-- tenant's daily billing_analytics rows and monthly payments. With only the keys indexed each
-- row was a heap visit, scattered (one tenant's days are written a day apart): 365 buffer
-- reads and ~8 ms per page at 10,000 tenants, most of a tenant page's database time. With the
-- summed column in the index the scan is index-only. Each new index is built before the one it
-- replaces is dropped, so the keyed lookups never lose their index.
CREATE INDEX IF NOT EXISTS idx_tc_billing_analytics_sub_sent
    ON billing_analytics (subscription_id, period_start) INCLUDE (emails_sent);
DROP INDEX IF EXISTS idx_tc_billing_analytics_sub;
CREATE INDEX IF NOT EXISTS idx_tc_payments_subscription_amount
    ON payments (subscription_id, billing_period_start) INCLUDE (amount);
DROP INDEX IF EXISTS idx_tc_payments_subscription;
