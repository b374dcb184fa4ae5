-- Backend CPU sampler (issue 12): two metrics in the catalogue, source backend_sampler.
-- compute_seconds: kernel CPU time (schedstat or utime+stime) of each backend, attributed
-- per tenant per interval; tenant NULL = unattributed client-backend CPU (including CPU of
-- backends that exited between two samples). Priority 0: it beats pg_stat_kcache (1) and
-- pg_stat_statements (2). background_cpu_seconds: autovacuum, checkpointer, WAL writer,
-- bgwriter, WAL senders, I/O workers, the postmaster and its other children (tenant NULL).
-- Idempotent: re-running updates the rows in place.
INSERT INTO telemetry_metrics (metric, source, unit, kind, aggregate, priority, description) VALUES
 ('compute_seconds', 'backend_sampler', 'second', 'measured', 'add', 0,
  'CPU seconds each backend spent, read from the kernel (/proc/<pid>/schedstat or stat) every sampler interval and attributed to the tenant it served (tag, database, role); tenant NULL = unattributed client backends and CPU of backends that exited between samples.'),
 ('background_cpu_seconds', 'backend_sampler', 'second', 'measured', 'add', 0,
  'CPU seconds of server processes serving no tenant: autovacuum, checkpointer, WAL writer, background writer, WAL senders, I/O workers, the postmaster and its other children (tenant NULL).')
ON CONFLICT (metric, source) DO UPDATE
   SET unit = EXCLUDED.unit, kind = EXCLUDED.kind, aggregate = EXCLUDED.aggregate,
       priority = EXCLUDED.priority, description = EXCLUDED.description;
