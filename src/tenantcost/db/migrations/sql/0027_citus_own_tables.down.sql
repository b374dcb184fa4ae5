-- 0027 down: the keys without the tenant again, where the table is still local. A table that
-- `tenantcost db distribute` placed keeps the tenant in its keys (Citus refuses any other
-- unique key there); `undistribute_table` it first to get the old keys back.
DO $$
DECLARE
    citus_tables text[] := '{}';
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT COALESCE(array_agg(logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition WHERE partmethod = 'h'$q$
           INTO citus_tables;
    END IF;
    IF NOT 'tier_decisions' = ANY (citus_tables) THEN
        ALTER TABLE tier_decisions DROP CONSTRAINT IF EXISTS tier_decisions_pkey;
        ALTER TABLE tier_decisions ADD CONSTRAINT tier_decisions_pkey PRIMARY KEY (id);
    END IF;
    IF NOT 'telemetry_app_events' = ANY (citus_tables) THEN
        ALTER TABLE telemetry_app_events DROP CONSTRAINT IF EXISTS telemetry_app_events_pkey;
        ALTER TABLE telemetry_app_events
            ADD CONSTRAINT telemetry_app_events_pkey PRIMARY KEY (source_id, event_id);
    END IF;
END
$$;

-- Rows charged to no tenant back to tenant_id NULL, and the readers of revisions 0024, 0022,
-- 0020 and 0010. Citus cannot hold NULL in a distribution column: a table `db distribute`
-- placed must be undistributed (undistribute_table) first.
DO $$
DECLARE
    t text;
    distributed text[] := '{}';
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT COALESCE(array_agg(logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition WHERE partmethod = 'h'$q$
           INTO distributed;
    END IF;
    IF distributed && ARRAY['tenant_usage_hourly', 'tenant_usage_daily', 'tenant_cost_daily', 'tenant_cost_ledger']::text[] THEN
        RAISE EXCEPTION 'revision 0027 cannot be undone while % are distributed by Citus',
            array_to_string(ARRAY(SELECT unnest(distributed) INTERSECT
                                  SELECT unnest(ARRAY['tenant_usage_hourly', 'tenant_usage_daily', 'tenant_cost_daily', 'tenant_cost_ledger']::text[])), ', ')
            USING HINT = 'undistribute_table() them first: NULL cannot be a distribution value';
    END IF;
    ALTER TABLE tenant_cost_daily DROP CONSTRAINT IF EXISTS tenant_cost_daily_line;
    ALTER TABLE tenant_cost_ledger DROP CONSTRAINT IF EXISTS tenant_cost_ledger_tenant;
    CREATE TEMP TABLE tenantcost_0027_marked ON COMMIT DROP AS
        SELECT day FROM tenant_usage_changed_days;
    FOREACH t IN ARRAY ARRAY['tenant_usage_hourly', 'tenant_usage_daily', 'tenant_cost_daily', 'tenant_cost_ledger']::text[] LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN tenant_id DROP NOT NULL', t);
        EXECUTE format('UPDATE %I SET tenant_id = NULL WHERE tenant_id = ''00000000-0000-0000-0000-000000000000''::uuid', t);
    END LOOP;
    DELETE FROM tenant_usage_changed_days c
     WHERE NOT EXISTS (SELECT 1 FROM tenantcost_0027_marked m WHERE m.day = c.day);
    ALTER TABLE tenant_cost_daily ADD CONSTRAINT tenant_cost_daily_line
        CHECK ((line = 'tenant') = (tenant_id IS NOT NULL));
    ALTER TABLE tenant_cost_ledger ADD CONSTRAINT tenant_cost_ledger_tenant
        CHECK ((line IN ('tenant', 'no_active_subscription')) = (tenant_id IS NOT NULL));
END
$$;
COMMENT ON COLUMN tenant_usage_hourly.tenant_id IS NULL;
COMMENT ON COLUMN tenant_usage_daily.tenant_id IS NULL;
COMMENT ON COLUMN tenant_cost_daily.tenant_id IS NULL;
COMMENT ON COLUMN tenant_cost_ledger.tenant_id IS NULL;

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
), hours AS (
    SELECT h.hour, date_trunc(p_grain, h.hour, 'UTC') AS at,
           date_trunc(CASE WHEN p_grain = 'hour' THEN 'hour' ELSE 'day' END, h.hour, 'UTC')
             AS span,
           1 << extract(hour FROM h.hour AT TIME ZONE 'UTC')::integer AS bit,
           b.name, b.vcpu, b.ram, b.storage, b.egress,
           extract(epoch FROM (date_trunc('month', h.hour, 'UTC') + interval '1 month')
                              - date_trunc('month', h.hour, 'UTC'))::numeric / 3600
             AS hours_in_month
      FROM generate_series(date_trunc('hour', p_start, 'UTC'),
                           p_end - interval '1 microsecond', interval '1 hour') h (hour)
      LEFT JOIN LATERAL (SELECT * FROM books b WHERE b.effective_from <= h.hour
                          ORDER BY b.effective_from DESC, b.name DESC LIMIT 1) b ON true
), in_force AS MATERIALIZED (
    -- each hour of the window, its book, and its segment: the hours of one UTC day (one
    -- hour at hour grain) priced with one book
    SELECT h.*, dense_rank() OVER (ORDER BY h.span, h.name) AS seg FROM hours h
), sums AS (
    SELECT f.seg, u.tenant_id, u.metric, u.source, bit_or(f.bit) AS hours,
           sum(u.quantity) AS quantity,
           min(u.quantity) FILTER (WHERE u.quantity > 0) AS smallest,
           bool_or(u.quantity = 0) AS zero,
           sum(u.quantity / 1000000000 / f.hours_in_month)
             FILTER (WHERE u.metric = 'storage_bytes') AS gb_months
      FROM tenant_usage_hourly u JOIN in_force f ON f.hour = u.hour
     WHERE u.hour >= p_start AND u.hour < p_end
       AND u.metric IN ('compute_seconds', 'connection_seconds', 'storage_bytes',
                        'egress_bytes', 'background_cpu_seconds')
     GROUP BY 1, 2, 3, 4
), ranked AS (
    -- the hours each source is the best for (storage: every source, every hour); a LEFT
    -- JOIN (the foreign key on the evidence guarantees the row) keeps the planner's estimate
    -- of the groups, which the by-row path below needs for a sane plan
    SELECT s.*, m.kind,
           CASE WHEN s.metric = 'storage_bytes' THEN s.hours
                ELSE s.hours & ~coalesce(bit_or(s.hours) OVER (
                         PARTITION BY s.seg, s.tenant_id, s.metric ORDER BY m.priority, s.source
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) END AS chosen
      FROM sums s LEFT JOIN telemetry_metrics m USING (metric, source)
), scaled AS (
    -- a group's quantity from its sums, or NULL: summed row by row below
    SELECT r.seg, r.tenant_id, r.metric, r.source, r.kind, r.chosen,
           CASE WHEN r.chosen <> r.hours THEN NULL
                WHEN r.metric = 'storage_bytes' THEN r.gb_months
                WHEN r.metric = 'connection_seconds' THEN
                     CASE WHEN scale(r.quantity * p_memory_mb / 1000)
                               >= scale(r.quantity) + scale(p_memory_mb) + 3
                          THEN round(r.quantity * p_memory_mb * 0.001,
                                     greatest(scale(r.smallest * p_memory_mb / 1000),
                                              CASE WHEN r.zero
                                                   THEN scale(0 * p_memory_mb / 1000) END,
                                              scale(r.quantity) + scale(p_memory_mb))) END
                WHEN r.metric = 'egress_bytes' THEN
                     CASE WHEN scale(r.quantity / 1000000000) >= scale(r.quantity) + 9
                          THEN round(r.quantity * 0.000000001,
                                     greatest(scale(r.smallest / 1000000000),
                                              CASE WHEN r.zero
                                                   THEN scale(0::numeric / 1000000000) END,
                                              scale(r.quantity))) END
                ELSE r.quantity END AS quantity
      FROM ranked r
     WHERE r.chosen <> 0
), partial AS MATERIALIZED (
    -- groups whose source is the best for some of its hours only, or whose per-row quotients
    -- were rounded: each with the hours it counts
    SELECT s.seg, s.tenant_id, s.metric, s.source, s.kind, f.hour
      FROM scaled s JOIN in_force f ON f.seg = s.seg AND f.bit & s.chosen <> 0
     WHERE s.quantity IS NULL
), partial_rows AS (
    -- their rows: one probe of the evidence's unique key per group and hour (or a hash join
    -- over the window's evidence, as the planner finds cheaper)
    SELECT p.seg, p.tenant_id, p.metric, p.source, p.kind, u.quantity
      FROM partial p
      JOIN tenant_usage_hourly u
        ON u.hour = p.hour AND u.tenant_id = p.tenant_id AND u.metric = p.metric
       AND u.source = p.source
     WHERE u.hour >= p_start AND u.hour < p_end
    UNION ALL
    SELECT p.seg, p.tenant_id, p.metric, p.source, p.kind, u.quantity
      FROM partial p
      JOIN tenant_usage_hourly u
        ON u.hour = p.hour AND u.tenant_id IS NULL AND u.metric = p.metric
       AND u.source = p.source
     WHERE p.tenant_id IS NULL AND u.hour >= p_start AND u.hour < p_end
), by_rows AS (
    -- summed as 0010 sums them
    SELECT seg, tenant_id, metric, source, kind,
           sum(CASE metric WHEN 'connection_seconds' THEN quantity * p_memory_mb / 1000
                           WHEN 'egress_bytes' THEN quantity / 1000000000
                           ELSE quantity END) AS quantity
      FROM partial_rows
     GROUP BY 1, 2, 3, 4, 5
), grouped AS (
    SELECT f.at, f.name AS price_book, x.tenant_id, x.metric, x.source, x.kind,
           CASE x.metric WHEN 'connection_seconds' THEN f.ram
                         WHEN 'storage_bytes' THEN f.storage
                         WHEN 'egress_bytes' THEN f.egress
                         ELSE f.vcpu END AS unit_price,
           sum(x.quantity) AS quantity
      FROM (SELECT seg, tenant_id, metric, source, kind, quantity FROM scaled
             WHERE quantity IS NOT NULL
            UNION ALL
            SELECT seg, tenant_id, metric, source, kind, quantity FROM by_rows) x
      JOIN (SELECT DISTINCT ON (seg) * FROM in_force ORDER BY seg) f ON f.seg = x.seg
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
), chosen_days AS (
    -- days rolled up into daily evidence (revision 0020): best source per tenant-day and
    -- metric; counters their day's sum, peaks their largest hour, storage its last hour
    SELECT DISTINCT ON (d.tenant_id, d.day, d.metric, CASE WHEN d.metric = 'storage_bytes' THEN d.source END)
           d.tenant_id, (d.day + make_interval(hours => d.last_hour)) AT TIME ZONE 'UTC' AS hour,
           d.metric,
           CASE WHEN d.metric = 'storage_bytes' THEN d.last_quantity
                WHEN m.aggregate = 'max' THEN d.peak
                ELSE d.quantity END AS quantity,
           NULL::timestamptz AS updated_at
      FROM tenant_usage_daily d
      JOIN telemetry_metrics m USING (metric, source)
     WHERE d.day >= ((SELECT start FROM month) AT TIME ZONE 'UTC')::date AND d.tenant_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM tenant_usage_hourly u
                        WHERE u.tenant_id = d.tenant_id AND u.source = d.source
                          AND u.hour >= d.day::timestamp AT TIME ZONE 'UTC'
                          AND u.hour < (d.day + 1)::timestamp AT TIME ZONE 'UTC')
     ORDER BY d.tenant_id, d.day, d.metric,
              CASE WHEN d.metric = 'storage_bytes' THEN d.source END, m.priority
), evidence AS (
    SELECT * FROM chosen UNION ALL SELECT * FROM chosen_days
), latest_storage AS (
    SELECT DISTINCT ON (tenant_id) tenant_id, hour
      FROM evidence WHERE metric = 'storage_bytes'
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
      FROM evidence c
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

CREATE OR REPLACE VIEW shared_infrastructure_cost WITH (security_invoker = true) AS
SELECT l.line, l.tenant_id, co.name AS company_name,
       sum(l.amount) FILTER (WHERE l.driver IN ('vps', 'shared_vps')) AS infrastructure_cost,
       sum(l.amount) FILTER (WHERE l.driver IN ('dedicated_ips', 'shared_ips')) AS email_service_cost,
       sum(l.amount) AS total_cost,
       p.allocation_rule, l.period
  FROM tenant_cost_ledger l
  JOIN tenant_cost_periods p ON p.period = l.period
  LEFT JOIN companies co ON co.id = l.tenant_id
 WHERE l.period = tenantcost_latest_period()
   AND l.line IN ('shared_unallocated', 'no_active_subscription')
 GROUP BY l.line, l.tenant_id, co.name, p.allocation_rule, l.period;
