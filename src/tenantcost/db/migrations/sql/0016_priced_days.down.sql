-- Back to 0015: attribution re-prices every day with evidence again. The two bookkeeping
-- tables stay (--drop-data removes them); upgrading again marks every evidence day changed.
DROP TRIGGER IF EXISTS tenantcost_usage_days_insert ON tenant_usage_hourly;
DROP TRIGGER IF EXISTS tenantcost_usage_days_update ON tenant_usage_hourly;
DROP TRIGGER IF EXISTS tenantcost_usage_days_delete ON tenant_usage_hourly;
DROP FUNCTION IF EXISTS tenantcost_note_usage_days();
