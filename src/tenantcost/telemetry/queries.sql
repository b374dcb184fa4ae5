-- Telemetry: tenant mapping, collector reads and writes. Parameters are always bound.

-- name: company_by_id
SELECT id, name FROM companies WHERE id = %(id)s;

-- name: companies_by_name
SELECT id, name FROM companies WHERE name = %(name)s OR lower(name) = lower(%(name)s)
 ORDER BY (name = %(name)s) DESC, id LIMIT 5;

-- name: mapping_all
SELECT m.tenant_id, c.name AS company_name, m.kind, m.object_name, m.created_at, m.created_by
  FROM tenant_mapping m LEFT JOIN companies c ON c.id = m.tenant_id
 ORDER BY c.name, m.kind, m.object_name;

-- name: mapping_for_object
SELECT m.tenant_id, c.name AS company_name FROM tenant_mapping m
  LEFT JOIN companies c ON c.id = m.tenant_id
 WHERE m.kind = %(kind)s AND m.object_name IS NOT DISTINCT FROM %(object_name)s
   AND (m.kind <> 'shared' OR m.tenant_id = %(tenant_id)s);

-- name: mapping_insert
INSERT INTO tenant_mapping (tenant_id, kind, object_name)
VALUES (%(tenant_id)s, %(kind)s, %(object_name)s);

-- name: mapping_delete
DELETE FROM tenant_mapping
 WHERE tenant_id = %(tenant_id)s
   AND (%(kind)s::text IS NULL OR kind = %(kind)s)
   AND (%(object_name)s::text IS NULL OR object_name = %(object_name)s)
RETURNING kind, object_name;

-- name: database_exists
SELECT 1 FROM pg_database WHERE datname = %(name)s;

-- name: role_exists
SELECT 1 FROM pg_roles WHERE rolname = %(name)s;

-- name: schema_exists
SELECT 1 FROM pg_namespace WHERE nspname = %(name)s;

-- name: collector_lock
SELECT pg_advisory_xact_lock(hashtext('tenantcost.collect'));

-- name: now
SELECT now() AS now, pg_backend_pid() AS pid, current_database() AS database;

-- name: object_names
SELECT 'database' AS kind, oid::bigint AS oid, datname AS name FROM pg_database
UNION ALL
SELECT 'role', oid::bigint, rolname FROM pg_roles;

-- name: extension
SELECT n.nspname AS schema, e.extversion AS version
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = %(name)s;

-- name: view_columns
SELECT a.attname AS name FROM pg_attribute a
 WHERE a.attrelid = to_regclass(%(relation)s) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum;

-- name: state_all
SELECT source, key, data, observed_at FROM telemetry_state;

-- name: state_upsert
INSERT INTO telemetry_state (source, key, data, observed_at)
VALUES (%(source)s, %(key)s, %(data)s, %(observed_at)s)
ON CONFLICT (source, key) DO UPDATE SET data = EXCLUDED.data, observed_at = EXCLUDED.observed_at;

-- name: snapshot_all
SELECT dbid::bigint AS dbid, userid::bigint AS userid, queryid, toplevel, calls, exec_ms, plan_ms,
       rows, io_read_ms, shared_blks_read, shared_blks_hit, wal_bytes, cpu_user_s,
       cpu_system_s, stats_since
  FROM telemetry_pgss_snapshot;

-- name: snapshot_clear
DELETE FROM telemetry_pgss_snapshot;

-- name: snapshot_copy
COPY telemetry_pgss_snapshot (dbid, userid, queryid, toplevel, calls, exec_ms, plan_ms, rows,
      io_read_ms, shared_blks_read, shared_blks_hit, wal_bytes, cpu_user_s, cpu_system_s,
      stats_since) FROM STDIN;

-- name: pg_stat_database
SELECT datname, session_time, active_time, stats_reset
  FROM pg_stat_database WHERE datname = ANY(%(names)s);

-- name: activity
SELECT datname, usename, state FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid();

-- name: database_sizes
SELECT datname, pg_database_size(oid) AS bytes FROM pg_database
 WHERE datname = ANY(%(names)s) AND has_database_privilege(oid, 'CONNECT');

-- name: cluster_size
SELECT coalesce(sum(pg_database_size(oid)), 0) AS bytes FROM pg_database
 WHERE datallowconn AND has_database_privilege(oid, 'CONNECT');

-- name: schema_sizes
SELECT n.nspname AS schema, coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes
  FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'm')
 WHERE n.nspname = ANY(%(names)s)
 GROUP BY n.nspname;

-- name: shared_tables
-- Leaf tables with a uuid tenant_id column the current role can read, except tenantcost's own.
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name,
       pg_total_relation_size(c.oid) AS bytes, greatest(c.reltuples, 0)::bigint AS est_rows
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
 WHERE c.relkind = 'r' AND a.atttypid = 'uuid'::regtype
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
   AND c.relname <> ALL(%(exclude)s) AND c.relname NOT LIKE 'tenant_usage_hourly%%'
   AND has_table_privilege(c.oid, 'SELECT')
 ORDER BY n.nspname, c.relname;

-- name: ensure_partition
SELECT tenantcost_ensure_usage_partition(%(at)s) AS partition;

-- name: usage_partitions
SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'tenant_usage_hourly'::regclass
 ORDER BY c.relname;

-- name: usage_upsert
-- The rows of one kind of aggregate ({aggregate}, a literal: add | max | last, as in
-- telemetry_metrics; a metric not catalogued counts as last, and its foreign key refuses it):
-- the collector runs it once per kind. A conflicting row adds, keeps the larger or takes the
-- new value. No subquery, function or parameter in DO UPDATE (Citus refuses the first two on
-- a distributed table and sends no parameter there to the shards): the aggregate is the
-- statement's, the time the proposed row's. Evidence of no tenant (host, unattributed) is
-- stored with the nil UUID (revision 0027).
INSERT INTO tenant_usage_hourly AS u (hour, tenant_id, metric, source, quantity, updated_at)
SELECT x.hour, coalesce(x.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), x.metric,
       x.source, x.quantity, now()
  FROM unnest(%(hours)s::timestamptz[], %(tenants)s::uuid[], %(metrics)s::text[],
              %(sources)s::text[], %(quantities)s::numeric[])
       AS x (hour, tenant_id, metric, source, quantity)
  LEFT JOIN telemetry_metrics m ON m.metric = x.metric AND m.source = x.source
 WHERE CASE WHEN m.aggregate IN ('add', 'max') THEN m.aggregate ELSE 'last' END = {aggregate}
ON CONFLICT (hour, tenant_id, metric, source) DO UPDATE
   SET quantity = CASE {aggregate}::text
                      WHEN 'add' THEN u.quantity + EXCLUDED.quantity
                      WHEN 'max' THEN greatest(u.quantity, EXCLUDED.quantity)
                      ELSE EXCLUDED.quantity END,
       samples = u.samples + 1,
       updated_at = EXCLUDED.updated_at;

-- name: usage_days_mark
-- The UTC days of the hours just written into tenant_usage_hourly, changed since priced: the
-- writer marks them itself, as the statement triggers do on PostgreSQL (on Citus the plan
-- drops those triggers: on a distributed table they would run on the workers' shards).
INSERT INTO tenant_usage_changed_days (day)
SELECT DISTINCT (h AT TIME ZONE 'UTC')::date FROM unnest(%(hours)s::timestamptz[]) AS h
ON CONFLICT (day) DO NOTHING;

-- name: host_upsert
INSERT INTO host_usage_hourly AS h (hour, host, metric, quantity)
SELECT * FROM unnest(%(hours)s::timestamptz[], %(hosts)s::text[], %(metrics)s::text[],
                     %(quantities)s::numeric[])
ON CONFLICT (hour, host, metric) DO UPDATE
   SET quantity = CASE WHEN h.metric IN ('cpu_seconds', 'memory_gb_seconds')
                       THEN h.quantity + EXCLUDED.quantity
                       WHEN h.metric = 'rss_bytes_peak' THEN greatest(h.quantity, EXCLUDED.quantity)
                       ELSE EXCLUDED.quantity END,
       samples = h.samples + 1,
       updated_at = now();

-- name: app_events_ingest
-- Idempotent: only batch rows not seen before (per source_id, event_id; the key carries the
-- event's tenant first, for Citus) reach the rollup. The days it writes are marked changed
-- here too (on Citus no trigger does it: docs/citus.md).
WITH incoming AS (
    SELECT * FROM unnest(%(source_ids)s::text[], %(event_ids)s::text[], %(tenants)s::uuid[],
                         %(hours)s::timestamptz[], %(queries)s::bigint[],
                         %(exec_seconds)s::numeric[], %(rows)s::bigint[], %(bytes)s::bigint[])
        AS t (source_id, event_id, tenant_id, hour, queries, exec_seconds, rows, result_bytes)
), inserted AS (
    INSERT INTO telemetry_app_events (source_id, event_id, tenant_id, hour, queries,
                                      exec_seconds, rows, result_bytes)
    SELECT * FROM incoming
    ON CONFLICT (tenant_id, source_id, event_id) DO NOTHING
    RETURNING tenant_id, hour, queries, exec_seconds, rows, result_bytes
), metrics AS (
    SELECT hour, tenant_id, v.metric, sum(v.quantity) AS quantity
      FROM inserted,
           LATERAL (VALUES ('query_count', queries::numeric), ('compute_seconds', exec_seconds),
                           ('rows', rows::numeric), ('egress_bytes', result_bytes::numeric))
                   AS v (metric, quantity)
     GROUP BY hour, tenant_id, v.metric
), upserted AS (
    INSERT INTO tenant_usage_hourly AS u (hour, tenant_id, metric, source, quantity, updated_at)
    SELECT hour, tenant_id, metric, 'app', quantity, now() FROM metrics
    ON CONFLICT (hour, tenant_id, metric, source) DO UPDATE
       SET quantity = u.quantity + EXCLUDED.quantity, samples = u.samples + 1,
           updated_at = EXCLUDED.updated_at
    RETURNING 1
), marked AS (
    INSERT INTO tenant_usage_changed_days (day)
    SELECT DISTINCT (hour AT TIME ZONE 'UTC')::date FROM metrics
    ON CONFLICT (day) DO NOTHING
)
SELECT (SELECT count(*) FROM inserted) AS inserted, (SELECT count(*) FROM upserted) AS upserted;

-- name: app_events_retention
DELETE FROM telemetry_app_events WHERE hour < %(before)s;

-- name: run_insert
INSERT INTO telemetry_runs (started_at, finished_at, hour, summary, warnings)
VALUES (%(started_at)s, clock_timestamp(), %(hour)s, %(summary)s, %(warnings)s)
RETURNING id;

-- name: citus_stat_tenants_settings
-- How citus_stat_tenants counts: the period length (s), what it tracks (none | all), and the
-- clock now (not the transaction's start: the period is the one the next read falls in).
SELECT current_setting('citus.stat_tenants_period')::int AS period,
       current_setting('citus.stat_tenants_track') AS track,
       extract(epoch FROM clock_timestamp())::float8 AS read_at;

-- name: citus_stat_tenants
-- Every tracked tenant on every node (not only the top citus.stat_tenants_limit).
SELECT nodeid, colocation_id, tenant_attribute,
       query_count_in_this_period, query_count_in_last_period,
       cpu_usage_in_this_period, cpu_usage_in_last_period
  FROM citus_stat_tenants(true)
 WHERE tenant_attribute IS NOT NULL;

-- name: companies_known
SELECT id FROM companies WHERE id = ANY(%(ids)s::uuid[]);

-- name: citus_tenant_tables
-- Hash-distributed tables whose distribution column is a uuid tenant_id, except tenantcost's own.
SELECT n.nspname AS schema, c.relname AS name
  FROM pg_dist_partition p
  JOIN pg_class c ON c.oid = p.logicalrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
 WHERE p.partmethod = 'h' AND c.relkind = 'r' AND a.atttypid = 'uuid'::regtype
   AND column_to_column_name(p.logicalrelid, p.partkey) = 'tenant_id'
   AND c.relname <> ALL(%(exclude)s) AND c.relname NOT LIKE 'tenant_usage_hourly%%'
   AND has_table_privilege(c.oid, 'SELECT')
 ORDER BY 1, 2;

-- name: citus_shard_sizes
SELECT shard_id, size FROM citus_shard_sizes();

-- name: citus_worker_nodes
-- The active primary workers (the coordinator's group 0 is read by the local collector).
SELECT nodeid, nodename, nodeport FROM pg_dist_node
 WHERE isactive AND noderole = 'primary' AND groupid <> 0
 ORDER BY nodeid;

-- name: citus_coordinator_node
SELECT nodeid FROM pg_dist_node WHERE groupid = 0 AND noderole = 'primary' LIMIT 1;

-- name: database_oid
SELECT oid::bigint AS oid FROM pg_database WHERE datname = current_database();

-- name: citus_uuid_shards
-- Shards of hash-distributed tables whose distribution column is a uuid (a tenant's id).
SELECT s.shardid AS shard_id, c.relname AS relation,
       s.shardminvalue::int AS low, s.shardmaxvalue::int AS high
  FROM pg_dist_shard s
  JOIN pg_dist_partition p ON p.logicalrelid = s.logicalrelid AND p.partmethod = 'h'
  JOIN pg_class c ON c.oid = s.logicalrelid
  JOIN pg_attribute a ON a.attrelid = s.logicalrelid
   AND a.attname = column_to_column_name(p.logicalrelid, p.partkey)
 WHERE a.atttypid = 'uuid'::regtype;

-- name: citus_tenant_hashes
-- Every tenant's hash as Citus hashes a uuid distribution value (shard ranges hold these).
SELECT id, worker_hash(id) AS hash FROM companies;

-- ---- evidence retention (revision 0020): hourly for a window of days, then daily -----------

-- name: rollup_day
-- One UTC day [start, end) of hourly evidence into daily evidence: per tenant, metric and
-- source the sum of the hours, the largest hour, the last hour's value and the hours counted;
-- returns how many hourly rows were rolled up.
WITH src AS MATERIALIZED (
    SELECT u.tenant_id, u.metric, u.source, sum(u.quantity) AS quantity,
           max(u.quantity) AS peak,
           extract(hour FROM max(u.hour) AT TIME ZONE 'UTC')::smallint AS last_hour,
           (array_agg(u.quantity ORDER BY u.hour DESC))[1] AS last_quantity,
           count(*) AS hours
      FROM tenant_usage_hourly u
     WHERE u.hour >= %(start)s AND u.hour < %(end)s
     GROUP BY u.tenant_id, u.metric, u.source
), ins AS (
    INSERT INTO tenant_usage_daily AS d (day, tenant_id, metric, source, quantity, peak,
                                         last_hour, last_quantity, hours)
    SELECT %(day)s::date, tenant_id, metric, source, quantity, peak, last_hour, last_quantity,
           hours
      FROM src
    ON CONFLICT (day, tenant_id, metric, source) DO UPDATE
       SET quantity = d.quantity + EXCLUDED.quantity,
           peak = greatest(d.peak, EXCLUDED.peak),
           last_quantity = CASE WHEN EXCLUDED.last_hour >= d.last_hour
                                THEN EXCLUDED.last_quantity ELSE d.last_quantity END,
           last_hour = greatest(d.last_hour, EXCLUDED.last_hour),
           hours = least(24, d.hours + EXCLUDED.hours)
)
SELECT coalesce(sum(hours), 0)::bigint AS rows FROM src;

-- name: rollup_replace
-- A day rolled up before and written again (a bulk load): the daily evidence of the sources
-- it now has hourly rows for is replaced, not added to.
DELETE FROM tenant_usage_daily d
 WHERE d.day = %(day)s
   AND d.source IN (SELECT DISTINCT u.source FROM tenant_usage_hourly u
                     WHERE u.hour >= %(start)s AND u.hour < %(end)s);

-- name: rolled_day_mark
-- The day is rolled up: which of its hours had evidence (one index probe per hour) and how
-- many hourly rows went into the daily evidence.
INSERT INTO tenant_usage_rolled_days AS r (day, hours, rows)
SELECT %(day)s::date, coalesce(bit_or(1 << g), 0), %(rows)s
  FROM generate_series(0, 23) g
 WHERE EXISTS (SELECT 1 FROM tenant_usage_hourly u
                WHERE u.hour = %(start)s::timestamptz + make_interval(hours => g))
ON CONFLICT (day) DO UPDATE
   SET rolled_at = now(), hours = r.hours | EXCLUDED.hours, rows = r.rows + EXCLUDED.rows;

-- name: rolled_day_mark_distributed
-- rolled_day_mark where Citus distributes the evidence (`db distribute`): Citus correlates no
-- subquery on it with generate_series, so the shards list the day's distinct hours.
INSERT INTO tenant_usage_rolled_days AS r (day, hours, rows)
SELECT %(day)s::date, coalesce(bit_or(1 << h.g), 0), %(rows)s
  FROM (SELECT DISTINCT extract(hour FROM u.hour AT TIME ZONE 'UTC')::integer AS g
          FROM tenant_usage_hourly u
         WHERE u.hour >= %(start)s AND u.hour < %(end)s) h
ON CONFLICT (day) DO UPDATE
   SET rolled_at = now(), hours = r.hours | EXCLUDED.hours, rows = r.rows + EXCLUDED.rows;

-- name: rolled_days
SELECT day FROM tenant_usage_rolled_days WHERE day >= %(first)s AND day <= %(last)s ORDER BY day;

-- name: hourly_rows_exist
SELECT EXISTS (SELECT 1 FROM tenant_usage_hourly u
                WHERE u.hour >= %(start)s AND u.hour < %(end)s) AS found;

-- name: hourly_hour_delete
-- A monthly partition's day goes hour by hour (bounded statements; the day's transaction
-- rolls it up first).
DELETE FROM tenant_usage_hourly WHERE hour = %(hour)s;

-- name: changed_day_forget
-- Rolled up after it was priced: deleting its hours is not a change to re-price.
DELETE FROM tenant_usage_changed_days WHERE day = %(day)s;

-- name: daily_evidence_days_before
SELECT DISTINCT day FROM tenant_usage_daily WHERE day < %(before)s ORDER BY day;

-- name: daily_evidence_delete_day
DELETE FROM tenant_usage_daily WHERE day = %(day)s;

-- name: retention_lock
-- One retention run rolls a day up at a time (a second waits, then finds it done).
SELECT pg_advisory_xact_lock(hashtext('tenantcost.retention'));
