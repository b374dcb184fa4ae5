DROP TABLE IF EXISTS subscription_terms, subscription_addons, addons, tenant_signups,
                     tier_alerts, tier_decisions, tier_state, plan_tiers, tiers;
DELETE FROM cost_settings WHERE key IN ('annual_prepay_discount_pct', 'multi_project_discount_pct',
    'tier_step_down_hours', 'tenant_outlier_pct', 'free_abuse_threshold');
