-- Revision 0025 down: the key-only indexes of revision 0001 again.
CREATE INDEX IF NOT EXISTS idx_tc_billing_analytics_sub
    ON billing_analytics (subscription_id, period_start);
DROP INDEX IF EXISTS idx_tc_billing_analytics_sub_sent;
CREATE INDEX IF NOT EXISTS idx_tc_payments_subscription
    ON payments (subscription_id, billing_period_start);
DROP INDEX IF EXISTS idx_tc_payments_subscription_amount;
