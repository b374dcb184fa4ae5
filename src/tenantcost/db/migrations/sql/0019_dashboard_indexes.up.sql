-- ============================================================================
-- Dashboard at 10,000+ tenants (issue 15, part B): indexes for what the pages read.
-- ============================================================================
-- 1. The tables' default sorts, in the exact order the dashboard asks for (sort key NULLS
--    LAST, then company and tenant), so a first page is an index scan of 50 rows instead of
--    a sort of every tenant of the month.
-- 2. The tenant page's alerts (subject = the tenant's id) and the overview's signals in force
--    and open alerts, newest first: one tenant's rows / the first N, never the whole history.
-- Idempotent (IF NOT EXISTS).
CREATE INDEX IF NOT EXISTS idx_figures_health_order
    ON tenant_period_figures (period, cost_efficiency_score DESC NULLS LAST, company_name, tenant_id);
CREATE INDEX IF NOT EXISTS idx_figures_optimization_order
    ON tenant_period_figures (period, (revenue * 2 - total_operational_cost) DESC NULLS LAST,
                              company_name, tenant_id)
    WHERE business_health_status <> 'Excellent';
CREATE INDEX IF NOT EXISTS idx_figures_cost_per_email_order
    ON tenant_period_figures (period, cost_per_email_delivered, company_name, tenant_id)
    WHERE cost_per_email_delivered > 0;
CREATE INDEX IF NOT EXISTS idx_tier_alerts_subject_opened
    ON tier_alerts (subject, opened_at DESC);
CREATE INDEX IF NOT EXISTS idx_tier_alerts_open_opened
    ON tier_alerts (opened_at DESC) WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_tier_decisions_in_force_hour
    ON tier_decisions (hour DESC, tenant_id) WHERE ended_at IS NULL AND to_level <> 'normal';
