-- Citus telemetry (issue 16): the workers' per-tenant figures in the metric catalogue.
-- compute_seconds from citus_stat_tenants ranks first (-1): on a Citus cluster the workers
-- run the tenants' queries, and the coordinator's own sources see only routing and wall time.
-- It counts single-tenant queries only; a tenant-hour without it falls back to the others.
-- Idempotent: re-running updates the rows in place.
INSERT INTO telemetry_metrics (metric, source, unit, kind, aggregate, priority, description) VALUES
 ('compute_seconds', 'citus_stat_tenants', 'second', 'measured', 'add', -1,
  'CPU seconds each tenant''s single-tenant queries used on every Citus node (citus_stat_tenants, read each pass: what grew since the previous pass, across its periods).'),
 ('query_count', 'citus_stat_tenants', 'query', 'measured', 'add', 0,
  'Single-tenant queries counted on every Citus node (citus_stat_tenants).'),
 ('storage_bytes', 'citus_shard_share', 'byte', 'estimated', 'last', 1,
  'The tenant''s row share of each shard of the distributed tables keyed by tenant_id, times the shard''s size (citus_shard_sizes): exact for a tenant alone in its shard.')
ON CONFLICT (metric, source) DO UPDATE
   SET unit = EXCLUDED.unit, kind = EXCLUDED.kind, aggregate = EXCLUDED.aggregate,
       priority = EXCLUDED.priority, description = EXCLUDED.description;
