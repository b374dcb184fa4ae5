DROP VIEW IF EXISTS tenant_usage_by_day;
DROP TABLE IF EXISTS tenant_usage_daily;
DROP TABLE IF EXISTS tenant_usage_rolled_days;
