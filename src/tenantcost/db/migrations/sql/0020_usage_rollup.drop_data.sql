DROP TABLE IF EXISTS tenant_usage_daily;
DROP TABLE IF EXISTS tenant_usage_rolled_days;
