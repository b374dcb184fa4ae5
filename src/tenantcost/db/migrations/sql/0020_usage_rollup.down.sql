-- Back to 0019: monthly partitions again. Each month held in daily partitions is merged into
-- one monthly partition (rows copied into a new table, which is attached; the daily
-- partitions dropped: no trigger fires, no day is marked changed). The daily evidence and
-- the rolled-up days stay (--drop-data removes them); the hours they stand for are gone.
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
