-- Citus workers read directly (down): the catalogue rows go unless usage evidence still
-- references them (that evidence is data: kept unless --drop-data, which removes both); the
-- workers' snapshots go (the next pass on the way up again is a baseline).
DELETE FROM telemetry_metrics m
 WHERE m.source IN ('citus_worker_kcache', 'citus_worker_statements', 'citus_cluster_sampler')
   AND NOT EXISTS (SELECT 1 FROM tenant_usage_hourly u
                    WHERE u.metric = m.metric AND u.source = m.source)
   AND NOT EXISTS (SELECT 1 FROM tenant_usage_daily d
                    WHERE d.metric = m.metric AND d.source = m.source);
DELETE FROM telemetry_state WHERE source = 'citus_worker';
