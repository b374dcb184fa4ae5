-- Decisions, alerts and tier definitions are data: kept unless --drop-data.
DROP VIEW IF EXISTS tenant_monthly_revenue;
DROP VIEW IF EXISTS tenant_hourly_cost;
REVOKE ALL ON tiers, plan_tiers, tier_state, tier_decisions, tier_alerts, tenant_signups,
              addons, subscription_addons, subscription_terms
       FROM business_analysts, application_service, db_administrators;
