-- ============================================================================
-- TELEMETRY AND COST ATTRIBUTION (issue 5, seed 002 sections 6 and 11)
-- ============================================================================
-- How each tenant shows up in PostgreSQL, hourly usage rollups per tenant with the source
-- of every figure, the collector's snapshots, host measurements and the cost ledger.
-- Idempotent: every object is created only when missing (or replaced when it is code).

-- pg_stat_statements in this database, only where the server can provide it: without
-- shared_preload_libraries the view errors on every read, so the collector reports
-- "statement stats unavailable" instead. Never fails the migration.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') THEN
        RAISE NOTICE 'pg_stat_statements is not installed on this server: statement stats will be reported as unavailable';
        RETURN;
    END IF;
    IF current_setting('shared_preload_libraries') !~ '(^|[\s,])pg_stat_statements($|[\s,])' THEN
        RAISE NOTICE 'pg_stat_statements is not in shared_preload_libraries: statement stats will be reported as unavailable';
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'not allowed to CREATE EXTENSION pg_stat_statements here: ask a superuser to run it';
    END;
END
$$;

-- ---------------------------------------------------------------------------
-- 1. Tenant mapping: database, role, schema, or shared tables with tenant_id.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tenant_mapping (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('database', 'role', 'schema', 'shared')),
    object_name text NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT current_user,
    CONSTRAINT tenant_mapping_object_named CHECK ((kind = 'shared') = (object_name IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS tenant_mapping_object ON tenant_mapping (kind, object_name)
    WHERE object_name IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS tenant_mapping_shared ON tenant_mapping (tenant_id)
    WHERE kind = 'shared';
COMMENT ON TABLE tenant_mapping IS
'How a tenant (companies.id) shows up in PostgreSQL: its own database, role or schema (object_name), or rows in shared tables with a tenant_id column (kind shared). Statement stats are attributed by database first, then role.';

-- ---------------------------------------------------------------------------
-- 2. The metric catalogue: what each hourly figure is, where it comes from, and whether
--    it is measured, modelled or estimated. Pricing and views pick sources from it.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS telemetry_metrics (
    metric      text NOT NULL,
    source      text NOT NULL,
    unit        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('measured', 'modelled', 'estimated')),
    aggregate   text NOT NULL CHECK (aggregate IN ('add', 'max', 'last')),
    priority    integer NOT NULL,
    description text NOT NULL,
    PRIMARY KEY (metric, source)
);
COMMENT ON TABLE telemetry_metrics IS
'Catalogue of tenant_usage_hourly metrics. aggregate: add (counter deltas), max (peak), last (gauge). When several sources give one metric for a tenant-hour, the lowest priority wins (storage_bytes sources are distinct objects and add up).';

INSERT INTO telemetry_metrics (metric, source, unit, kind, aggregate, priority, description) VALUES
 ('compute_seconds', 'pg_stat_kcache', 'second', 'measured', 'add', 1,
  'CPU seconds (user + system, planning + execution) from getrusage, via pg_stat_kcache.'),
 ('compute_seconds', 'pg_stat_statements', 'second', 'estimated', 'add', 2,
  'Planning + execution wall-clock time from pg_stat_statements, used as CPU time: overstates CPU when queries wait on I/O or locks.'),
 ('compute_seconds', 'app', 'second', 'estimated', 'add', 3,
  'Client-side execution time of tagged queries (includes network round trip and waits).'),
 ('query_count', 'pg_stat_statements', 'query', 'measured', 'add', 1,
  'Calls counted by pg_stat_statements (top-level statements).'),
 ('query_count', 'app', 'query', 'measured', 'add', 2, 'Tagged queries executed by the application.'),
 ('rows', 'pg_stat_statements', 'row', 'measured', 'add', 1, 'Rows returned or affected.'),
 ('rows', 'app', 'row', 'measured', 'add', 2, 'Rows returned or affected by tagged queries.'),
 ('io_read_seconds', 'pg_stat_statements', 'second', 'measured', 'add', 1,
  'Time reading shared blocks (blk_read_time, shared_blk_read_time from PostgreSQL 17); needs track_io_timing.'),
 ('shared_blks_read', 'pg_stat_statements', 'block', 'measured', 'add', 1, 'Shared blocks read from disk or OS cache.'),
 ('shared_blks_hit', 'pg_stat_statements', 'block', 'measured', 'add', 1, 'Shared blocks found in shared_buffers.'),
 ('wal_bytes', 'pg_stat_statements', 'byte', 'measured', 'add', 1, 'WAL generated.'),
 ('egress_bytes', 'app', 'byte', 'estimated', 'add', 1,
  'Result bytes sent to the application: the sum of the result values'' wire sizes (protocol framing not counted).'),
 ('connection_seconds', 'pg_stat_database', 'second', 'measured', 'add', 1,
  'session_time of the tenant''s own database (PostgreSQL >= 14).'),
 ('connection_seconds', 'pg_stat_activity', 'second', 'estimated', 'add', 2,
  'Client connections seen in pg_stat_activity samples x the time since the previous sample.'),
 ('active_seconds', 'pg_stat_database', 'second', 'measured', 'add', 1,
  'active_time of the tenant''s own database (time executing statements).'),
 ('active_seconds', 'pg_stat_activity', 'second', 'estimated', 'add', 2,
  'Connections in state active in pg_stat_activity samples x the time since the previous sample.'),
 ('connections_peak', 'pg_stat_activity', 'connection', 'measured', 'max', 1,
  'Most client connections seen in one sample during the hour.'),
 ('memory_mb_peak', 'modelled', 'MB', 'modelled', 'max', 1,
  'connections_peak x the configured per-connection memory footprint (TENANTCOST_CONNECTION_MEMORY_MB).'),
 ('storage_bytes', 'database_size', 'byte', 'measured', 'last', 1, 'pg_database_size of the tenant''s database.'),
 ('storage_bytes', 'schema_size', 'byte', 'measured', 'last', 1,
  'Sum of pg_total_relation_size (tables, indexes, TOAST) of the tenant''s schema.'),
 ('storage_bytes', 'shared_row_share', 'byte', 'estimated', 'last', 1,
  'Tenant''s share of rows (sampled with TABLESAMPLE on large tables) x pg_total_relation_size, over shared tables with a tenant_id column.')
ON CONFLICT (metric, source) DO UPDATE
   SET unit = EXCLUDED.unit, kind = EXCLUDED.kind, aggregate = EXCLUDED.aggregate,
       priority = EXCLUDED.priority, description = EXCLUDED.description;

-- ---------------------------------------------------------------------------
-- 3. Hourly usage per tenant, partitioned by month. tenant_id NULL = activity on the
--    cluster not mapped to any tenant (tenantcost's own queries among it).
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tenant_usage_hourly (
    hour       timestamptz NOT NULL,
    tenant_id  uuid NULL,
    metric     text NOT NULL,
    source     text NOT NULL,
    quantity   numeric NOT NULL CHECK (quantity >= 0),
    samples    integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenant_usage_hourly_on_the_hour CHECK (hour = date_trunc('hour', hour, 'UTC')),
    CONSTRAINT tenant_usage_hourly_metric FOREIGN KEY (metric, source)
        REFERENCES telemetry_metrics (metric, source)
) PARTITION BY RANGE (hour);
CREATE UNIQUE INDEX IF NOT EXISTS tenant_usage_hourly_key
    ON tenant_usage_hourly (hour, tenant_id, metric, source) NULLS NOT DISTINCT;
CREATE INDEX IF NOT EXISTS tenant_usage_hourly_tenant ON tenant_usage_hourly (tenant_id, hour);
COMMENT ON TABLE tenant_usage_hourly IS
'Usage per tenant and UTC hour, one row per metric and source (see telemetry_metrics). Partitioned by month; the collector creates partitions (tenantcost_ensure_usage_partition) and drops those past the retention setting. Counter deltas and the snapshot they came from are committed together, so re-collecting adds nothing.';

-- The monthly partition holding ``at``; created when missing, safe under concurrency.
CREATE OR REPLACE FUNCTION tenantcost_ensure_usage_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamptz := date_trunc('month', at, 'UTC');
    part text := format('tenant_usage_hourly_y%sm%s',
                        to_char(month_start AT TIME ZONE 'UTC', 'YYYY'),
                        to_char(month_start AT TIME ZONE 'UTC', 'MM'));
BEGIN
    IF to_regclass(part) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE TABLE %I PARTITION OF tenant_usage_hourly '
                           'FOR VALUES FROM (%L) TO (%L)',
                           part, month_start, month_start + interval '1 month');
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;  -- another collector created it first
        END;
    END IF;
    RETURN part;
END
$$;
COMMENT ON FUNCTION tenantcost_ensure_usage_partition(timestamptz) IS
'Creates the tenant_usage_hourly partition for the UTC month containing the argument when missing; returns its name.';

-- ---------------------------------------------------------------------------
-- 4. Collector state: the last pg_stat_statements snapshot (deltas are taken against it),
--    small counters (pg_stat_statements_info, pg_stat_database, host processes), pass log.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS telemetry_pgss_snapshot (
    dbid            oid NOT NULL,
    userid          oid NOT NULL,
    queryid         bigint NOT NULL,
    toplevel        boolean NOT NULL,
    calls           bigint NOT NULL,
    exec_ms         double precision NOT NULL,
    plan_ms         double precision NOT NULL,
    rows            bigint NOT NULL,
    io_read_ms      double precision NOT NULL,
    shared_blks_read bigint NOT NULL,
    shared_blks_hit bigint NOT NULL,
    wal_bytes       numeric NOT NULL,
    cpu_user_s      double precision NULL,
    cpu_system_s    double precision NULL,
    stats_since     timestamptz NULL,
    PRIMARY KEY (dbid, userid, queryid, toplevel)
);
COMMENT ON TABLE telemetry_pgss_snapshot IS
'pg_stat_statements counters as of the collector''s last pass (replaced each pass); the next pass takes deltas against it. Times in milliseconds as PostgreSQL reports them.';

CREATE TABLE IF NOT EXISTS telemetry_state (
    source      text NOT NULL,
    key         text NOT NULL,
    data        jsonb NOT NULL,
    observed_at timestamptz NOT NULL,
    PRIMARY KEY (source, key)
);
COMMENT ON TABLE telemetry_state IS
'Counters the collector compares against on its next pass: pg_stat_statements_info, pg_stat_database per database, host process CPU, last activity sample time.';

CREATE TABLE IF NOT EXISTS telemetry_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    hour        timestamptz NOT NULL,
    summary     jsonb NOT NULL,
    warnings    text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS telemetry_runs_hour ON telemetry_runs (hour);
COMMENT ON TABLE telemetry_runs IS
'One row per collector pass: what it counted, which sources were unavailable, resets and evictions (possible undercount).';

-- Application-tagged usage, idempotent per (source_id, event_id) like OpenMeter / Lago.
CREATE TABLE IF NOT EXISTS telemetry_app_events (
    source_id    text NOT NULL,
    event_id     text NOT NULL,
    tenant_id    uuid NOT NULL,
    hour         timestamptz NOT NULL,
    queries      bigint NOT NULL CHECK (queries >= 0),
    exec_seconds numeric NOT NULL CHECK (exec_seconds >= 0),
    rows         bigint NOT NULL CHECK (rows >= 0),
    result_bytes bigint NOT NULL CHECK (result_bytes >= 0),
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, event_id)
);
CREATE INDEX IF NOT EXISTS telemetry_app_events_received ON telemetry_app_events (received_at);
COMMENT ON TABLE telemetry_app_events IS
'Batches flushed by the application tagging library; a batch row re-sent after a lost acknowledgement is ignored (ON CONFLICT DO NOTHING) and adds nothing to tenant_usage_hourly.';

-- Host measurements (CPU seconds and RSS of the PostgreSQL server processes, cluster size).
CREATE TABLE IF NOT EXISTS host_usage_hourly (
    hour       timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour, 'UTC')),
    host       text NOT NULL,
    metric     text NOT NULL CHECK (metric IN ('cpu_seconds', 'memory_gb_seconds', 'rss_bytes_peak', 'storage_bytes')),
    quantity   numeric NOT NULL CHECK (quantity >= 0),
    samples    integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hour, host, metric)
);
COMMENT ON TABLE host_usage_hourly IS
'What the PostgreSQL host really spent per UTC hour: cpu_seconds (psutil, server processes incl. exited backends), memory_gb_seconds (private RSS + shared memory x time), rss_bytes_peak, storage_bytes (sum of pg_database_size). Reconciled attribution compares tenants with it.';

-- ---------------------------------------------------------------------------
-- 5. Invoices and the cost ledger.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS host_invoices (
    period      text PRIMARY KEY CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
    amount      numeric(14,2) NOT NULL CHECK (amount >= 0),
    currency    text NOT NULL DEFAULT 'USD',
    recorded_at timestamptz NOT NULL DEFAULT now(),
    recorded_by text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE host_invoices IS
'The hosting provider''s invoice total for a month (tenantcost attribute --invoice-total); reconciled attribution splits it.';

CREATE TABLE IF NOT EXISTS tenant_cost_ledger (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    period       text NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    mode         text NOT NULL CHECK (mode IN ('bottom_up', 'reconciled')),
    line         text NOT NULL CHECK (line IN ('tenant', 'idle')),
    tenant_id    uuid NULL,
    driver       text NOT NULL CHECK (driver IN ('compute', 'memory', 'storage', 'network', 'vps', 'dedicated_ips', 'invoice')),
    quantity     numeric NOT NULL,
    unit         text NOT NULL,
    unit_price   numeric NOT NULL,
    amount       numeric(30,12) NOT NULL CHECK (amount >= 0),
    price_book   text NOT NULL,
    currency     text NOT NULL DEFAULT 'USD',
    basis        text NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenant_cost_ledger_line CHECK ((line = 'tenant') = (tenant_id IS NOT NULL)),
    CONSTRAINT tenant_cost_ledger_period CHECK (period_end > period_start)
);
CREATE INDEX IF NOT EXISTS tenant_cost_ledger_period ON tenant_cost_ledger (period, mode);
CREATE INDEX IF NOT EXISTS tenant_cost_ledger_tenant ON tenant_cost_ledger (tenant_id, period);
COMMENT ON TABLE tenant_cost_ledger IS
'Per-tenant cost by driver for a period (YYYY-MM, or YYYY-MM-DDTHH for the collector''s hourly pricing). bottom_up: quantity x unit_price (priced per hour with the book in force at the hour''s start). reconciled: the host total split by usage, with idle lines (line = idle) so tenants + idle = total exactly. Re-running a period replaces its rows in one transaction. Internal approximation, never billing.';

CREATE TABLE IF NOT EXISTS tenant_cost_totals (
    period      text NOT NULL,
    mode        text NOT NULL CHECK (mode IN ('bottom_up', 'reconciled')),
    basis       text NOT NULL,
    host_total  numeric(30,12) NULL,
    total       numeric(30,12) NOT NULL,
    attributed  numeric(30,12) NOT NULL,
    idle        numeric(30,12) NOT NULL CHECK (idle >= 0),
    scale       numeric NOT NULL,
    currency    text NOT NULL DEFAULT 'USD',
    notes       text[] NOT NULL DEFAULT '{}',
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (period, mode)
);
COMMENT ON TABLE tenant_cost_totals IS
'Per period and mode: total = what the ledger lines add up to (host total + VPS/IP costs, which pass through reconciliation unchanged), host_total = the invoice or measured host usage x price being split (reconciled only), attributed = tenant lines, idle (never negative), scale < 1 when attributed usage exceeded the host total and was scaled down.';

-- ---------------------------------------------------------------------------
-- 6. The seed's tenant_resource_usage, as a view over the current month's rollups.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE VIEW tenant_resource_usage WITH (security_invoker = true) AS
WITH month AS (
    SELECT date_trunc('month', now(), 'UTC') AS start
), chosen AS (
    -- per tenant-hour and metric, the best source (lowest priority); storage sources add up
    SELECT DISTINCT ON (u.tenant_id, u.hour, u.metric, CASE WHEN u.metric = 'storage_bytes' THEN u.source END)
           u.tenant_id, u.hour, u.metric, u.quantity, u.updated_at
      FROM tenant_usage_hourly u
      JOIN telemetry_metrics m USING (metric, source)
     WHERE u.hour >= (SELECT start FROM month) AND u.tenant_id IS NOT NULL
     ORDER BY u.tenant_id, u.hour, u.metric,
              CASE WHEN u.metric = 'storage_bytes' THEN u.source END, m.priority
), latest_storage AS (
    SELECT DISTINCT ON (tenant_id) tenant_id, hour
      FROM chosen WHERE metric = 'storage_bytes'
     ORDER BY tenant_id, hour DESC
), per_tenant AS (
    SELECT c.tenant_id,
           sum(c.quantity) FILTER (WHERE c.metric = 'compute_seconds') AS compute_seconds,
           max(c.quantity) FILTER (WHERE c.metric = 'memory_mb_peak') AS memory_mb_peak,
           sum(c.quantity) FILTER (WHERE c.metric = 'storage_bytes'
                                     AND c.hour = ls.hour) AS storage_bytes,
           sum(c.quantity) FILTER (WHERE c.metric = 'egress_bytes') AS egress_bytes,
           sum(c.quantity) FILTER (WHERE c.metric = 'query_count') AS query_count,
           max(c.updated_at) FILTER (WHERE c.metric IN ('query_count', 'active_seconds')
                                       AND c.quantity > 0) AS last_active
      FROM chosen c
      LEFT JOIN latest_storage ls ON ls.tenant_id = c.tenant_id
     GROUP BY c.tenant_id
), tiers AS (
    SELECT s.tenant_id, string_agg(DISTINCT p.name, ' + ' ORDER BY p.name) AS tier
      FROM subscriptions s JOIN plans p ON p.id = s.plan_id
     WHERE s.status = 'active'
     GROUP BY s.tenant_id
)
SELECT t.tenant_id,
       round(coalesce(t.compute_seconds, 0) * 1000)::bigint AS cpu_ms_total,
       round(coalesce(t.memory_mb_peak, 0))::integer AS ram_mb_peak,
       round(coalesce(t.storage_bytes, 0) / 1e9, 2)::numeric(10,2) AS storage_gb,
       round(coalesce(t.egress_bytes, 0) / 1e9, 2)::numeric(10,2) AS network_gb,
       round(coalesce(t.query_count, 0))::bigint AS query_count,
       t.last_active,
       tiers.tier
  FROM per_tenant t
  LEFT JOIN tiers ON tiers.tenant_id = t.tenant_id;
COMMENT ON VIEW tenant_resource_usage IS
'Seed 002''s tenant_resource_usage over the current UTC month of tenant_usage_hourly (best source per metric, see telemetry_metrics). GB are decimal (1e9 bytes). tier is the plan name until tiers exist. Internal approximation.';
COMMENT ON COLUMN tenant_resource_usage.cpu_ms_total IS 'compute_seconds x 1000 this month: CPU from pg_stat_kcache when installed, otherwise execution time (an estimate).';
COMMENT ON COLUMN tenant_resource_usage.ram_mb_peak IS 'Modelled: most connections in one sample x TENANTCOST_CONNECTION_MEMORY_MB.';
COMMENT ON COLUMN tenant_resource_usage.storage_gb IS 'Latest storage sample this month (database, schema, or estimated share of shared tables), GB = 1e9 bytes.';
COMMENT ON COLUMN tenant_resource_usage.network_gb IS 'Estimated egress of application-tagged queries this month, GB = 1e9 bytes.';
COMMENT ON COLUMN tenant_resource_usage.query_count IS 'Queries this month (pg_stat_statements calls, else application-tagged queries).';
COMMENT ON COLUMN tenant_resource_usage.last_active IS 'When the collector last recorded queries or active time for the tenant (collector pass time).';
COMMENT ON COLUMN tenant_resource_usage.tier IS 'Plan name(s) of the tenant''s active subscription(s).';

-- ---------------------------------------------------------------------------
-- 7. Grants: analysts read, administrators manage (roles from revision 0005).
-- ---------------------------------------------------------------------------
GRANT SELECT ON tenant_mapping, telemetry_metrics, tenant_usage_hourly, telemetry_runs,
                host_usage_hourly, host_invoices, tenant_cost_ledger, tenant_cost_totals,
                tenant_resource_usage
      TO business_analysts;
GRANT ALL ON tenant_mapping, telemetry_metrics, tenant_usage_hourly, telemetry_pgss_snapshot,
             telemetry_state, telemetry_runs, telemetry_app_events, host_usage_hourly,
             host_invoices, tenant_cost_ledger, tenant_cost_totals, tenant_resource_usage
      TO db_administrators;
