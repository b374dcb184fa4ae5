-- Backend CPU sampler (down): the catalogue rows go unless usage rows still reference them
-- (that usage is data: kept unless --drop-data, which removes both).
DELETE FROM telemetry_metrics m
 WHERE m.source = 'backend_sampler'
   AND m.metric IN ('compute_seconds', 'background_cpu_seconds')
   AND NOT EXISTS (SELECT 1 FROM tenant_usage_hourly u
                    WHERE u.metric = m.metric AND u.source = m.source);
