-- Citus workers read directly (down): the catalogue rows go unless usage evidence still
-- references them (that evidence is data: kept unless --drop-data, which removes both); the
-- workers' snapshots go (the next pass on the way up again is a baseline). The sources still
-- in use are read first, then deleted around: no subquery correlated with the evidence, which
-- Citus cannot plan once the evidence is distributed.
DO $$
DECLARE
    used text[];
BEGIN
    SELECT coalesce(array_agg(DISTINCT s.metric || '/' || s.source), '{}') INTO used
      FROM (SELECT metric, source FROM tenant_usage_hourly
             WHERE source IN ('citus_worker_kcache', 'citus_worker_statements',
                              'citus_cluster_sampler')
            UNION ALL
            SELECT metric, source FROM tenant_usage_daily
             WHERE source IN ('citus_worker_kcache', 'citus_worker_statements',
                              'citus_cluster_sampler')) s;
    DELETE FROM telemetry_metrics m
     WHERE m.source IN ('citus_worker_kcache', 'citus_worker_statements', 'citus_cluster_sampler')
       AND NOT (m.metric || '/' || m.source = ANY (used));
END
$$;
DELETE FROM telemetry_state WHERE source = 'citus_worker';
