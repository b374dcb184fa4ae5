-- Citus workers read directly (issue 16): their pg_stat_statements / pg_stat_kcache per
-- tenant, attributed by the tenant mapping, then by the shard a single-tenant query ran on.
-- compute_seconds: the backend sampler over the coordinator and the workers on one machine
-- (kernel CPU of every backend serving the tenant's sessions, the coordinator's part
-- included) ranks first (-3); then the workers' kernel CPU per statement (pg_stat_kcache, -2),
-- before
-- citus_stat_tenants (-1); the workers' execution time is an estimate (wall time) and ranks
-- with citus_stat_tenants at -1, after it by name (ties go by source name), before every
-- coordinator source. Blocks, read time and WAL: the workers do the reading (0, before the
-- coordinator's 1). Calls and rows: shard queries, after the coordinator's own counts (2).
-- Idempotent: re-running updates the rows in place.
INSERT INTO telemetry_metrics (metric, source, unit, kind, aggregate, priority, description) VALUES
 ('compute_seconds', 'citus_cluster_sampler', 'second', 'measured', 'add', -3,
  'Kernel CPU of the tenant''s backends on a Citus coordinator and of the worker backends serving them (linked by citus_internal gpid=...), sampled per backend from /proc where the nodes run on the collector''s machine.'),
 ('background_cpu_seconds', 'citus_cluster_sampler', 'second', 'measured', 'add', -3,
  'Kernel CPU of the Citus coordinator''s and workers'' server processes that serve no client (autovacuum, checkpointer, Citus maintenance, ...), sampled from /proc.'),
 ('compute_seconds', 'citus_worker_kcache', 'second', 'measured', 'add', -2,
  'CPU seconds (user + system, pg_stat_kcache) the Citus workers spent on the tenant''s statements: mapped by database/role, else by the shard a single-tenant query ran on (a shard shared by several tenants split by their citus_stat_tenants CPU on that node).'),
 ('compute_seconds', 'citus_worker_statements', 'second', 'estimated', 'add', -1,
  'Execution + planning time (pg_stat_statements) of the tenant''s statements on the Citus workers, attributed as citus_worker_kcache: wall time, an estimate of CPU.'),
 ('query_count', 'citus_worker_statements', 'query', 'measured', 'add', 2,
  'Shard queries the Citus workers ran for the tenant (pg_stat_statements calls; a multi-shard query is one per shard and is not the tenant''s).'),
 ('rows', 'citus_worker_statements', 'row', 'measured', 'add', 2,
  'Rows the Citus workers returned or changed for the tenant''s shard queries.'),
 ('io_read_seconds', 'citus_worker_statements', 'second', 'measured', 'add', 0,
  'Time the Citus workers spent reading blocks for the tenant''s shard queries (track_io_timing).'),
 ('shared_blks_read', 'citus_worker_statements', 'block', 'measured', 'add', 0,
  'Blocks the Citus workers read from disk or the OS cache for the tenant''s shard queries.'),
 ('shared_blks_hit', 'citus_worker_statements', 'block', 'measured', 'add', 0,
  'Blocks the Citus workers found in shared buffers for the tenant''s shard queries.'),
 ('wal_bytes', 'citus_worker_statements', 'byte', 'measured', 'add', 0,
  'WAL the Citus workers wrote for the tenant''s shard queries.')
ON CONFLICT (metric, source) DO UPDATE
   SET unit = EXCLUDED.unit, kind = EXCLUDED.kind, aggregate = EXCLUDED.aggregate,
       priority = EXCLUDED.priority, description = EXCLUDED.description;
