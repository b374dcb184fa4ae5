-- Back to 0015's indexes (no data is lost: indexes only).
DROP INDEX IF EXISTS idx_tier_decisions_in_force_hour;
DROP INDEX IF EXISTS idx_tier_alerts_open_opened;
DROP INDEX IF EXISTS idx_tier_alerts_subject_opened;
DROP INDEX IF EXISTS idx_figures_cost_per_email_order;
DROP INDEX IF EXISTS idx_figures_optimization_order;
DROP INDEX IF EXISTS idx_figures_health_order;
