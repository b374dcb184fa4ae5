DROP TABLE IF EXISTS tenant_usage_changed_days;
DROP TABLE IF EXISTS tenant_cost_days;
