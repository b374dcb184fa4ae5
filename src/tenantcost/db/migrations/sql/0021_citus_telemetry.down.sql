-- Citus telemetry (down): the catalogue rows go unless usage rows still reference them
-- (that usage is data: kept unless --drop-data, which removes both).
DELETE FROM telemetry_metrics m
 WHERE (m.metric, m.source) IN (('compute_seconds', 'citus_stat_tenants'),
                                ('query_count', 'citus_stat_tenants'),
                                ('storage_bytes', 'citus_shard_share'))
   AND NOT EXISTS (SELECT 1 FROM tenant_usage_hourly u
                    WHERE u.metric = m.metric AND u.source = m.source);
