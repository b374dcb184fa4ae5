-- 0027: the keys of tenantcost's own distributed tables carry the tenant (issue 16).
-- Citus enforces a unique key per shard, so a table distributed by tenant_id needs tenant_id
-- in every unique key. On PostgreSQL the keys mean what they meant: tier_decisions.id is
-- still generated (GENERATED ALWAYS) and unique, and an app event is still counted once per
-- source and event id (an event carries one tenant; a source re-sending it sends the same).
-- Idempotent: each key is rebuilt only where it lacks tenant_id.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint c
                    WHERE c.conrelid = 'tier_decisions'::regclass AND c.contype = 'p'
                      AND c.conkey[1] = (SELECT attnum FROM pg_attribute
                                          WHERE attrelid = 'tier_decisions'::regclass
                                            AND attname = 'tenant_id')) THEN
        ALTER TABLE tier_decisions DROP CONSTRAINT IF EXISTS tier_decisions_pkey;
        ALTER TABLE tier_decisions ADD CONSTRAINT tier_decisions_pkey PRIMARY KEY (tenant_id, id);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint c
                    WHERE c.conrelid = 'telemetry_app_events'::regclass AND c.contype = 'p'
                      AND c.conkey[1] = (SELECT attnum FROM pg_attribute
                                          WHERE attrelid = 'telemetry_app_events'::regclass
                                            AND attname = 'tenant_id')) THEN
        ALTER TABLE telemetry_app_events DROP CONSTRAINT IF EXISTS telemetry_app_events_pkey;
        ALTER TABLE telemetry_app_events
            ADD CONSTRAINT telemetry_app_events_pkey PRIMARY KEY (tenant_id, source_id, event_id);
    END IF;
END
$$;
COMMENT ON CONSTRAINT tier_decisions_pkey ON tier_decisions IS
'(tenant_id, id): the tenant first, so Citus can enforce it per shard; id stays unique (generated).';
COMMENT ON CONSTRAINT telemetry_app_events_pkey ON telemetry_app_events IS
'(tenant_id, source_id, event_id): an event counts once (its tenant travels with it); the tenant first for Citus.';

-- ---------------------------------------------------------------------------------------
-- Rows charged to no tenant carry the nil UUID, tenant_id NOT NULL (issue 16).
-- ---------------------------------------------------------------------------------------
-- Host evidence (tenant_usage_hourly / tenant_usage_daily), the unattributed and background
-- usage lines (tenant_cost_daily) and the ledger's shared, idle, unattributed, background and
-- control-plane lines (tenant_cost_ledger) were written with tenant_id NULL. Citus cannot
-- place a row without a value in its distribution column, so those rows now carry the nil
-- UUID 00000000-0000-0000-0000-000000000000 ("no tenant": no company has it), and tenant_id
-- is NOT NULL.
-- Nothing a reader sees changes: the functions and views below, and every query of tenantcost,
-- give NULL for it as before (nullif), test "no tenant" as tenant_id = the nil UUID, and
-- writers store the nil UUID where they had no tenant. The unique keys were NULLS NOT DISTINCT
-- already: one nil row where there was one NULL row. A join on tenant_id to companies finds
-- no company for it, as for NULL.
DO $$
DECLARE
    t text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = 'tenant_cost_ledger'::regclass AND attname = 'tenant_id'
                      AND NOT attnotnull) THEN
        RETURN;  -- done already
    END IF;
    ALTER TABLE tenant_cost_daily DROP CONSTRAINT IF EXISTS tenant_cost_daily_line;
    ALTER TABLE tenant_cost_ledger DROP CONSTRAINT IF EXISTS tenant_cost_ledger_tenant;
    -- the priced-days triggers would mark every day holding host evidence as changed: the
    -- evidence is the same, so its days keep their price
    CREATE TEMP TABLE tenantcost_0027_marked ON COMMIT DROP AS
        SELECT day FROM tenant_usage_changed_days;
    FOREACH t IN ARRAY ARRAY['tenant_usage_hourly', 'tenant_usage_daily', 'tenant_cost_daily', 'tenant_cost_ledger']::text[] LOOP
        EXECUTE format('UPDATE %I SET tenant_id = ''00000000-0000-0000-0000-000000000000''::uuid WHERE tenant_id IS NULL', t);
        EXECUTE format('ALTER TABLE %I ALTER COLUMN tenant_id SET NOT NULL', t);
    END LOOP;
    DELETE FROM tenant_usage_changed_days c
     WHERE NOT EXISTS (SELECT 1 FROM tenantcost_0027_marked m WHERE m.day = c.day);
    ALTER TABLE tenant_cost_daily ADD CONSTRAINT tenant_cost_daily_line
        CHECK ((line = 'tenant') = (tenant_id <> '00000000-0000-0000-0000-000000000000'::uuid));
    ALTER TABLE tenant_cost_ledger ADD CONSTRAINT tenant_cost_ledger_tenant
        CHECK ((line IN ('tenant', 'no_active_subscription')) = (tenant_id <> '00000000-0000-0000-0000-000000000000'::uuid));
END
$$;
COMMENT ON COLUMN tenant_usage_hourly.tenant_id IS
'The tenant (companies.id); the nil UUID for evidence of no tenant (host, unattributed, background).';
COMMENT ON COLUMN tenant_usage_daily.tenant_id IS
'The tenant (companies.id); the nil UUID for evidence of no tenant (host, unattributed, background).';
COMMENT ON COLUMN tenant_cost_daily.tenant_id IS
'The tenant (companies.id) of a tenant line; the nil UUID on the unattributed and background lines.';
COMMENT ON COLUMN tenant_cost_ledger.tenant_id IS
'The tenant (companies.id) of a tenant or no_active_subscription line; the nil UUID on every line charged to no tenant.';

-- The readers in the database: the same rows as revisions 0024, 0022, 0020 and 0010 gave.
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
    -- over the window's evidence, as the planner finds cheaper); evidence of no tenant carries
    -- the nil UUID (revision 0027), so one equality finds it too
    SELECT p.seg, p.tenant_id, p.metric, p.source, p.kind, u.quantity
      FROM partial p
      JOIN tenant_usage_hourly u
        ON u.hour = p.hour AND u.tenant_id = p.tenant_id AND u.metric = p.metric
       AND u.source = p.source
     WHERE u.hour >= p_start AND u.hour < p_end
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
            WHEN g.tenant_id = '00000000-0000-0000-0000-000000000000'::uuid THEN 'unattributed'
            ELSE 'tenant' END,
       nullif(g.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid),
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
'Usage evidence in [p_start, p_end) priced with the book of provider p_provider in force at each hour (among p_books: the stored books that pass validation, so a bad row never prices anything), grouped to p_grain (hour | day | month). Per hour, tenant and metric the best source counts (telemetry_metrics.priority, then source; storage: every source). compute: CPU seconds x price per vCPU-second; memory: connection-seconds x p_memory_mb / 1000 x price per GB-second (modelled); storage: bytes / 1e9 / hours in that month per hour sampled (GB-months) x price per GB-month; network: egress bytes / 1e9 x price per GB. Amounts rounded once, to 12 decimals. (Revision 0024: the rows of 0010 and 0020, to the last digit and scale, from sums per day, tenant, metric and source instead of per-row ranking and arithmetic.)';

-- On a Citus coordinator the same query as PL/pgSQL (RETURN QUERY), as revision 0010 does for
-- tenantcost_cost_lines: Citus plans no parameterised SQL function over distributed tables
-- (the evidence, once `db distribute` placed it). On PostgreSQL it stays SQL (inlined).
DO $$
DECLARE
    body text;
    fn regprocedure :=
        'tenantcost_priced_usage(timestamptz, timestamptz, text, text, numeric, text[])';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    SELECT p.prosrc INTO body FROM pg_catalog.pg_proc p WHERE p.oid = fn;
    EXECUTE format('CREATE OR REPLACE FUNCTION tenantcost_priced_usage(%s) RETURNS %s '
                   'LANGUAGE plpgsql STABLE SET search_path = %I, pg_temp '
                   'SET citus.enable_repartition_joins = on AS %L',
                   pg_get_function_arguments(fn), pg_get_function_result(fn), current_schema(),
                   E'#variable_conflict use_column\nBEGIN\nRETURN QUERY\n'
                   || rtrim(body, E'; \n') || E';\nEND');
END
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
     WHERE u.hour >= (SELECT start FROM month) AND u.tenant_id <> '00000000-0000-0000-0000-000000000000'::uuid
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
     WHERE d.day >= ((SELECT start FROM month) AT TIME ZONE 'UTC')::date AND d.tenant_id <> '00000000-0000-0000-0000-000000000000'::uuid
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
SELECT (u.hour AT TIME ZONE 'UTC')::date AS day, nullif(u.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_id,
       u.metric, u.source,
       sum(u.quantity) AS quantity, max(u.quantity) AS peak,
       extract(hour FROM max(u.hour) AT TIME ZONE 'UTC')::smallint AS last_hour,
       (array_agg(u.quantity ORDER BY u.hour DESC))[1] AS last_quantity,
       count(*)::smallint AS hours
  FROM tenant_usage_hourly u
 GROUP BY 1, 2, 3, 4
UNION ALL
SELECT d.day, nullif(d.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), d.metric, d.source, d.quantity, d.peak, d.last_hour,
       d.last_quantity, d.hours
  FROM tenant_usage_daily d
 WHERE NOT EXISTS (SELECT 1 FROM tenant_usage_hourly u
                    WHERE u.hour >= d.day::timestamp AT TIME ZONE 'UTC'
                      AND u.hour < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
                      AND u.source = d.source);

CREATE OR REPLACE VIEW shared_infrastructure_cost WITH (security_invoker = true) AS
SELECT l.line, nullif(l.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_id, co.name AS company_name,
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
