-- 0020: usage evidence is kept hourly for a window of days (TENANTCOST_USAGE_HOURLY_DAYS),
-- then rolled up to daily evidence (issue 15). A real collector writes ~14 rows per
-- tenant-hour (~2.4 MB per tenant-month): a year of it at 10,000 tenants is ~290 GB, so
-- hourly evidence cannot be kept for months. The priced cost of a day (tenant_cost_daily) is
-- kept for good; the daily evidence keeps what the surfaces read after the window (usage
-- charts, the month's usage) at ~1/24 of the rows.
--
-- New months get one partition per UTC day, so the hours of a rolled-up day go with a
-- DROP TABLE (no dead rows left in a monthly partition, no delete trigger firing).
-- Partitions created before this revision are monthly: their days are rolled up and deleted
-- day by day, and the partition dropped once all its days are rolled up.

-- ---------------------------------------------------------------------------
-- 1. Daily evidence: one row per UTC day, tenant, metric and source.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tenant_usage_daily (
    day           date NOT NULL,
    tenant_id     uuid NULL,
    metric        text NOT NULL,
    source        text NOT NULL,
    quantity      numeric NOT NULL CHECK (quantity >= 0),
    peak          numeric NOT NULL CHECK (peak >= 0),
    last_hour     smallint NOT NULL CHECK (last_hour BETWEEN 0 AND 23),
    last_quantity numeric NOT NULL CHECK (last_quantity >= 0),
    hours         smallint NOT NULL CHECK (hours BETWEEN 1 AND 24),
    CONSTRAINT tenant_usage_daily_metric FOREIGN KEY (metric, source)
        REFERENCES telemetry_metrics (metric, source)
);
CREATE UNIQUE INDEX IF NOT EXISTS tenant_usage_daily_key
    ON tenant_usage_daily (day, tenant_id, metric, source) NULLS NOT DISTINCT;
CREATE INDEX IF NOT EXISTS tenant_usage_daily_tenant ON tenant_usage_daily (tenant_id, day);
COMMENT ON TABLE tenant_usage_daily IS
'tenant_usage_hourly rolled up per UTC day, tenant, metric and source once the day is older than TENANTCOST_USAGE_HOURLY_DAYS: quantity = the sum of the hours (what counters add up to; for a gauge such as storage_bytes, byte-hours), peak = the largest hour, last_quantity = the value at last_hour (the day''s last hour with a row), hours = how many hours had a row. Kept for TENANTCOST_USAGE_RETENTION_MONTHS. Priced cost is not re-derived from it: a rolled-up day keeps the cost it was priced to (tenant_cost_daily).';

-- The days rolled up: when, which hours had evidence (bit h = hour h), how many rows went.
CREATE TABLE IF NOT EXISTS tenant_usage_rolled_days (
    day       date PRIMARY KEY,
    rolled_at timestamptz NOT NULL DEFAULT now(),
    hours     integer NOT NULL DEFAULT 0 CHECK (hours >= 0 AND hours < 16777216),
    rows      bigint NOT NULL DEFAULT 0 CHECK (rows >= 0)
);
COMMENT ON TABLE tenant_usage_rolled_days IS
'UTC days whose hourly evidence was rolled up into tenant_usage_daily and removed from tenant_usage_hourly: when, the hours that had evidence (bit h set for UTC hour h) and how many hourly rows were rolled up. While it holds no hourly evidence such a day cannot be re-priced (its priced cost stays); a bulk load that writes it again (the demo history) makes it hourly again until retention rolls it up again, replacing the daily evidence of the sources it wrote.';

-- ---------------------------------------------------------------------------
-- 2. Partitions: one per UTC day for months that have no monthly partition yet.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tenantcost_ensure_usage_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamptz := date_trunc('month', at, 'UTC');
    monthly text := format('tenant_usage_hourly_y%sm%s',
                           to_char(month_start AT TIME ZONE 'UTC', 'YYYY'),
                           to_char(month_start AT TIME ZONE 'UTC', 'MM'));
    d timestamptz := month_start;
    part text;
BEGIN
    IF to_regclass(monthly) IS NOT NULL THEN
        RETURN monthly;  -- a month partitioned before revision 0020
    END IF;
    WHILE d < ((month_start AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC' LOOP
        part := 'tenant_usage_hourly_' || to_char(d AT TIME ZONE 'UTC', '"y"YYYY"m"MM"d"DD');
        -- Days before the one asked for that were rolled up get no partition again (the
        -- collector asks for the hour it writes); the day asked for and later ones always
        -- do (a bulk load may write a rolled-up day again: retention rolls it up again).
        IF to_regclass(part) IS NULL
           AND (d >= date_trunc('day', at, 'UTC')
                OR NOT EXISTS (SELECT 1 FROM tenant_usage_rolled_days r
                                WHERE r.day = (d AT TIME ZONE 'UTC')::date)) THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF tenant_usage_hourly '
                               'FOR VALUES FROM (%L) TO (%L)',
                               part, d, ((d AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC');
            EXCEPTION WHEN duplicate_table OR unique_violation THEN
                NULL;  -- another collector created it first
            END;
        END IF;
        d := ((d AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC';
    END LOOP;
    RETURN 'tenant_usage_hourly_'
           || to_char(date_trunc('day', at, 'UTC') AT TIME ZONE 'UTC', '"y"YYYY"m"MM"d"DD');
END
$$;
COMMENT ON FUNCTION tenantcost_ensure_usage_partition(timestamptz) IS
'Creates the tenant_usage_hourly partitions of the UTC month containing the argument when missing - one per UTC day, except rolled-up days (tenant_usage_rolled_days) before the argument''s day, and except months that have a monthly partition from before revision 0020 - and returns the name of the partition that holds the argument.';

COMMENT ON TABLE tenant_usage_hourly IS
'Usage per tenant and UTC hour, one row per metric and source (see telemetry_metrics). Partitioned by UTC day (months from before revision 0020: by month); the collector creates partitions (tenantcost_ensure_usage_partition), rolls days older than TENANTCOST_USAGE_HOURLY_DAYS up into tenant_usage_daily and drops their partitions. Counter deltas and the snapshot they came from are committed together, so re-collecting adds nothing.';

-- Usage per UTC day from both kinds of evidence, for surfaces that show usage over months
-- (the tenant page's usage table should read this instead of tenant_usage_hourly): the hourly
-- evidence summed per day, and the daily evidence of days (and sources) with no hourly rows.
CREATE OR REPLACE VIEW tenant_usage_by_day WITH (security_invoker = true) AS
SELECT (u.hour AT TIME ZONE 'UTC')::date AS day, u.tenant_id, u.metric, u.source,
       sum(u.quantity) AS quantity, max(u.quantity) AS peak,
       extract(hour FROM max(u.hour) AT TIME ZONE 'UTC')::smallint AS last_hour,
       (array_agg(u.quantity ORDER BY u.hour DESC))[1] AS last_quantity,
       count(*)::smallint AS hours
  FROM tenant_usage_hourly u
 GROUP BY 1, 2, 3, 4
UNION ALL
SELECT d.day, d.tenant_id, d.metric, d.source, d.quantity, d.peak, d.last_hour,
       d.last_quantity, d.hours
  FROM tenant_usage_daily d
 WHERE NOT EXISTS (SELECT 1 FROM tenant_usage_hourly u
                    WHERE u.hour >= d.day::timestamp AT TIME ZONE 'UTC'
                      AND u.hour < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
                      AND u.source = d.source);
COMMENT ON VIEW tenant_usage_by_day IS
'Usage evidence per UTC day, tenant, metric and source, whichever way it is kept: tenant_usage_hourly summed per day (quantity = sum, peak = largest hour, last_hour / last_quantity, hours counted), and tenant_usage_daily for the days rolled up (a source written again for a rolled-up day counts from its hours). Best source per metric is the reader''s choice (telemetry_metrics.priority; per day, not per hour, for rolled-up days).';

REVOKE ALL ON tenant_usage_daily, tenant_usage_rolled_days, tenant_usage_by_day FROM PUBLIC;
GRANT SELECT ON tenant_usage_daily, tenant_usage_rolled_days, tenant_usage_by_day
    TO business_analysts;
GRANT ALL ON tenant_usage_daily, tenant_usage_rolled_days TO db_administrators;
GRANT SELECT ON tenant_usage_by_day TO db_administrators;

-- ---------------------------------------------------------------------------
-- 3. Pricing (0010's tenantcost_priced_usage) with fewer passes, the same rows: the books in
--    force come from the hours of the window (generate_series) instead of a second read of
--    the chosen evidence, so that evidence is no longer materialised; rows are grouped by
--    metric (line, driver and unit are functions of it and of the tenant) and those labels
--    computed once per group instead of once per evidence row. Quantities, sums and the
--    rounding of amounts are exactly 0010's.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tenantcost_priced_usage(
    p_start timestamptz, p_end timestamptz, p_grain text, p_provider text, p_memory_mb numeric,
    p_books text[])
RETURNS TABLE (at timestamptz, line text, tenant_id uuid, driver text, source text, kind text,
               price_book text, quantity numeric, unit text, unit_price numeric, amount numeric)
LANGUAGE sql STABLE AS $$
WITH books AS (
    SELECT b.name, b.effective_from,
           (b.document -> 'rates' ->> 'vcpu_per_second')::numeric AS vcpu,
           (b.document -> 'rates' ->> 'ram_gb_per_second')::numeric AS ram,
           (b.document -> 'rates' ->> 'storage_gb_month')::numeric AS storage,
           (b.document -> 'rates' ->> 'egress_gb')::numeric AS egress
      FROM price_books b WHERE b.provider = p_provider AND b.name = ANY (p_books)
), in_force AS MATERIALIZED (
    SELECT h.hour, b.name, b.vcpu, b.ram, b.storage, b.egress,
           extract(epoch FROM (date_trunc('month', h.hour, 'UTC') + interval '1 month')
                              - date_trunc('month', h.hour, 'UTC'))::numeric / 3600
             AS hours_in_month
      FROM generate_series(date_trunc('hour', p_start, 'UTC'),
                           p_end - interval '1 microsecond', interval '1 hour') h (hour)
      LEFT JOIN LATERAL (SELECT * FROM books b WHERE b.effective_from <= h.hour
                          ORDER BY b.effective_from DESC, b.name DESC LIMIT 1) b ON true
), evidence AS (
    SELECT u.hour, u.tenant_id, u.metric, u.source, u.quantity, m.kind,
           rank() OVER (PARTITION BY u.hour, u.tenant_id, u.metric
                        ORDER BY m.priority, u.source) AS r
      FROM tenant_usage_hourly u
      JOIN telemetry_metrics m USING (metric, source)
     WHERE u.hour >= p_start AND u.hour < p_end
       AND u.metric IN ('compute_seconds', 'connection_seconds', 'storage_bytes',
                        'egress_bytes', 'background_cpu_seconds')
), grouped AS (
    SELECT date_trunc(p_grain, c.hour, 'UTC') AS at, c.tenant_id, c.metric, c.source, c.kind,
           f.name AS price_book,
           CASE c.metric WHEN 'connection_seconds' THEN f.ram
                         WHEN 'storage_bytes' THEN f.storage
                         WHEN 'egress_bytes' THEN f.egress
                         ELSE f.vcpu END AS unit_price,
           sum(CASE c.metric WHEN 'connection_seconds' THEN c.quantity * p_memory_mb / 1000
                             WHEN 'storage_bytes' THEN c.quantity / 1000000000 / f.hours_in_month
                             WHEN 'egress_bytes' THEN c.quantity / 1000000000
                             ELSE c.quantity END) AS quantity
      FROM evidence c JOIN in_force f ON f.hour = c.hour
     WHERE c.r = 1 OR c.metric = 'storage_bytes'
     GROUP BY 1, 2, 3, 4, 5, 6, 7
)
SELECT g.at,
       CASE WHEN g.metric = 'background_cpu_seconds' THEN 'background'
            WHEN g.tenant_id IS NULL THEN 'unattributed'
            ELSE 'tenant' END,
       g.tenant_id,
       CASE g.metric WHEN 'connection_seconds' THEN 'memory'
                     WHEN 'storage_bytes' THEN 'storage'
                     WHEN 'egress_bytes' THEN 'network'
                     ELSE 'compute' END,
       g.source, g.kind, g.price_book, g.quantity,
       CASE g.metric WHEN 'connection_seconds' THEN 'GB-second'
                     WHEN 'storage_bytes' THEN 'GB-month'
                     WHEN 'egress_bytes' THEN 'GB'
                     ELSE 'vCPU-second' END,
       g.unit_price, round(g.quantity * g.unit_price, 12)
  FROM grouped g
$$;
COMMENT ON FUNCTION tenantcost_priced_usage(timestamptz, timestamptz, text, text, numeric, text[]) IS
'Usage evidence in [p_start, p_end) priced with the book of provider p_provider in force at each hour (among p_books: the stored books that pass validation, so a bad row never prices anything), grouped to p_grain (hour | day | month). compute: CPU seconds x price per vCPU-second; memory: connection-seconds x p_memory_mb / 1000 x price per GB-second (modelled); storage: bytes / 1e9 / hours in that month per hour sampled (GB-months) x price per GB-month; network: egress bytes / 1e9 x price per GB. Amounts rounded once, to 12 decimals. (Revision 0020: same rows as 0010, fewer passes.)';
