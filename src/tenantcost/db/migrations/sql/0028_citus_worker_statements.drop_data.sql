-- Citus workers read directly (drop data): their usage evidence, then their catalogue rows.
DELETE FROM tenant_usage_hourly WHERE source IN ('citus_worker_kcache', 'citus_worker_statements', 'citus_cluster_sampler');
DELETE FROM tenant_usage_daily WHERE source IN ('citus_worker_kcache', 'citus_worker_statements', 'citus_cluster_sampler');
DELETE FROM telemetry_metrics WHERE source IN ('citus_worker_kcache', 'citus_worker_statements', 'citus_cluster_sampler');
