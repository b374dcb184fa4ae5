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
'UTC days whose hourly evidence was rolled up into tenant_usage_daily and removed from tenant_usage_hourly: when, the hours that had evidence (bit h set for UTC hour h) and how many hourly rows were rolled up. Such a day cannot be re-priced (its priced cost stays) and gets no hourly partition again.';

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
    WHILE d < date_add(month_start, interval '1 month', 'UTC') LOOP
        part := 'tenant_usage_hourly_' || to_char(d AT TIME ZONE 'UTC', '"y"YYYY"m"MM"d"DD');
        IF to_regclass(part) IS NULL
           AND NOT EXISTS (SELECT 1 FROM tenant_usage_rolled_days r
                            WHERE r.day = (d AT TIME ZONE 'UTC')::date) THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF tenant_usage_hourly '
                               'FOR VALUES FROM (%L) TO (%L)',
                               part, d, date_add(d, interval '1 day', 'UTC'));
            EXCEPTION WHEN duplicate_table OR unique_violation THEN
                NULL;  -- another collector created it first
            END;
        END IF;
        d := date_add(d, interval '1 day', 'UTC');
    END LOOP;
    RETURN 'tenant_usage_hourly_'
           || to_char(date_trunc('day', at, 'UTC') AT TIME ZONE 'UTC', '"y"YYYY"m"MM"d"DD');
END
$$;
COMMENT ON FUNCTION tenantcost_ensure_usage_partition(timestamptz) IS
'Creates the tenant_usage_hourly partitions of the UTC month containing the argument when missing - one per UTC day, except days already rolled up (tenant_usage_rolled_days) and months that have a monthly partition from before revision 0020 - and returns the name of the partition that holds the argument.';

COMMENT ON TABLE tenant_usage_hourly IS
'Usage per tenant and UTC hour, one row per metric and source (see telemetry_metrics). Partitioned by UTC day (months from before revision 0020: by month); the collector creates partitions (tenantcost_ensure_usage_partition), rolls days older than TENANTCOST_USAGE_HOURLY_DAYS up into tenant_usage_daily and drops their partitions. Counter deltas and the snapshot they came from are committed together, so re-collecting adds nothing.';

REVOKE ALL ON tenant_usage_daily, tenant_usage_rolled_days FROM PUBLIC;
GRANT SELECT ON tenant_usage_daily, tenant_usage_rolled_days TO business_analysts;
GRANT ALL ON tenant_usage_daily, tenant_usage_rolled_days TO db_administrators;
