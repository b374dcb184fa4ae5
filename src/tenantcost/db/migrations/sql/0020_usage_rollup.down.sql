-- Back to 0019: monthly partitions again. Each month held in daily partitions is merged into
-- one monthly partition (rows copied into a new table, which is attached; the daily
-- partitions dropped: no trigger fires, no day is marked changed). The daily evidence and
-- the rolled-up days stay (--drop-data removes them); the hours they stand for are gone.
DROP VIEW IF EXISTS tenant_usage_by_day;

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

DO $$
DECLARE
    m record;
    p record;
    monthly text;
BEGIN
    FOR m IN SELECT DISTINCT substr(c.relname, 1, length('tenant_usage_hourly_y0000m00')) AS name
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'tenant_usage_hourly'::regclass
                AND c.relname ~ '^tenant_usage_hourly_y[0-9]{4}m[0-9]{2}d[0-9]{2}$'
    LOOP
        monthly := m.name;
        EXECUTE format('CREATE TABLE %I (LIKE tenant_usage_hourly INCLUDING DEFAULTS '
                       'INCLUDING CONSTRAINTS)', monthly);
        FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                  WHERE i.inhparent = 'tenant_usage_hourly'::regclass
                    AND c.relname LIKE monthly || 'd%'
        LOOP
            EXECUTE format('INSERT INTO %I SELECT * FROM %I', monthly, p.relname);
            EXECUTE format('DROP TABLE %I', p.relname);
        END LOOP;
        EXECUTE format('ALTER TABLE tenant_usage_hourly ATTACH PARTITION %I FOR VALUES '
                       'FROM (%L) TO (%L)', monthly,
                       to_timestamp(substr(monthly, 22, 4) || '-' || substr(monthly, 27, 2)
                                    || '-01', 'YYYY-MM-DD')::timestamp AT TIME ZONE 'UTC',
                       (to_timestamp(substr(monthly, 22, 4) || '-' || substr(monthly, 27, 2)
                                     || '-01', 'YYYY-MM-DD')::timestamp + interval '1 month')
                         AT TIME ZONE 'UTC');
    END LOOP;
END
$$;

COMMENT ON TABLE tenant_usage_hourly IS
'Usage per tenant and UTC hour, one row per metric and source (see telemetry_metrics). Partitioned by month; the collector creates partitions (tenantcost_ensure_usage_partition) and drops those past the retention setting. Counter deltas and the snapshot they came from are committed together, so re-collecting adds nothing.';

DO $$
BEGIN
    IF to_regclass('tenant_usage_daily') IS NOT NULL THEN
        REVOKE ALL ON tenant_usage_daily, tenant_usage_rolled_days
          FROM business_analysts, db_administrators;
    END IF;
END
$$;

-- The pricing function as revision 0010 defined it.
CREATE OR REPLACE FUNCTION tenantcost_priced_usage(
    p_start timestamptz, p_end timestamptz, p_grain text, p_provider text, p_memory_mb numeric,
    p_books text[])
RETURNS TABLE (at timestamptz, line text, tenant_id uuid, driver text, source text, kind text,
               price_book text, quantity numeric, unit text, unit_price numeric, amount numeric)
LANGUAGE sql STABLE AS $$
WITH evidence AS (
    SELECT u.hour, u.tenant_id, u.metric, u.source, u.quantity, m.kind,
           rank() OVER (PARTITION BY u.hour, u.tenant_id, u.metric
                        ORDER BY m.priority, u.source) AS r
      FROM tenant_usage_hourly u
      JOIN telemetry_metrics m USING (metric, source)
     WHERE u.hour >= p_start AND u.hour < p_end
       AND u.metric IN ('compute_seconds', 'connection_seconds', 'storage_bytes',
                        'egress_bytes', 'background_cpu_seconds')
), chosen AS MATERIALIZED (
    SELECT * FROM evidence e WHERE e.r = 1 OR e.metric = 'storage_bytes'
), books AS (
    SELECT b.name, b.effective_from,
           (b.document -> 'rates' ->> 'vcpu_per_second')::numeric AS vcpu,
           (b.document -> 'rates' ->> 'ram_gb_per_second')::numeric AS ram,
           (b.document -> 'rates' ->> 'storage_gb_month')::numeric AS storage,
           (b.document -> 'rates' ->> 'egress_gb')::numeric AS egress
      FROM price_books b WHERE b.provider = p_provider AND b.name = ANY (p_books)
), hours AS MATERIALIZED (
    SELECT DISTINCT c.hour FROM chosen c
), in_force AS MATERIALIZED (
    SELECT h.hour, b.name, b.vcpu, b.ram, b.storage, b.egress,
           extract(epoch FROM (date_trunc('month', h.hour, 'UTC') + interval '1 month')
                              - date_trunc('month', h.hour, 'UTC'))::numeric / 3600
             AS hours_in_month
      FROM hours h
      LEFT JOIN LATERAL (SELECT * FROM books b WHERE b.effective_from <= h.hour
                          ORDER BY b.effective_from DESC, b.name DESC LIMIT 1) b ON true
), priced AS (
    SELECT date_trunc(p_grain, c.hour, 'UTC') AS at,
           CASE WHEN c.metric = 'background_cpu_seconds' THEN 'background'
                WHEN c.tenant_id IS NULL THEN 'unattributed'
                ELSE 'tenant' END AS line,
           c.tenant_id,
           CASE c.metric WHEN 'connection_seconds' THEN 'memory'
                         WHEN 'storage_bytes' THEN 'storage'
                         WHEN 'egress_bytes' THEN 'network'
                         ELSE 'compute' END AS driver,
           c.source, c.kind, f.name AS price_book,
           CASE c.metric WHEN 'connection_seconds' THEN c.quantity * p_memory_mb / 1000
                         WHEN 'storage_bytes' THEN c.quantity / 1000000000 / f.hours_in_month
                         WHEN 'egress_bytes' THEN c.quantity / 1000000000
                         ELSE c.quantity END AS quantity,
           CASE c.metric WHEN 'connection_seconds' THEN 'GB-second'
                         WHEN 'storage_bytes' THEN 'GB-month'
                         WHEN 'egress_bytes' THEN 'GB'
                         ELSE 'vCPU-second' END AS unit,
           CASE c.metric WHEN 'connection_seconds' THEN f.ram
                         WHEN 'storage_bytes' THEN f.storage
                         WHEN 'egress_bytes' THEN f.egress
                         ELSE f.vcpu END AS unit_price
      FROM chosen c JOIN in_force f ON f.hour = c.hour
)
SELECT p.at, p.line, p.tenant_id, p.driver, p.source, p.kind, p.price_book,
       sum(p.quantity), p.unit, p.unit_price, round(sum(p.quantity) * p.unit_price, 12)
  FROM priced p
 GROUP BY p.at, p.line, p.tenant_id, p.driver, p.source, p.kind, p.price_book, p.unit,
          p.unit_price
$$;
COMMENT ON FUNCTION tenantcost_priced_usage(timestamptz, timestamptz, text, text, numeric, text[]) IS
'Usage evidence in [p_start, p_end) priced with the book of provider p_provider in force at each hour (among p_books: the stored books that pass validation, so a bad row never prices anything), grouped to p_grain (hour | day | month). compute: CPU seconds x price per vCPU-second; memory: connection-seconds x p_memory_mb / 1000 x price per GB-second (modelled); storage: bytes / 1e9 / hours in that month per hour sampled (GB-months) x price per GB-month; network: egress bytes / 1e9 x price per GB. Amounts rounded once, to 12 decimals.';
