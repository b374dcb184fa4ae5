-- Citus telemetry (drop data): its usage rows, then its catalogue rows.
DELETE FROM tenant_usage_hourly WHERE source IN ('citus_stat_tenants', 'citus_shard_share');
DELETE FROM telemetry_metrics WHERE source IN ('citus_stat_tenants', 'citus_shard_share');
