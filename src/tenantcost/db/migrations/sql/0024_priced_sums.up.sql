-- 0024: a month's full re-price at 10,000 tenants (issue 15). tenantcost_priced_usage gives
-- the very rows of revision 0020 (same values, same numeric scales) with far less work per
-- evidence row: 0020 sorted every evidence row for the per-hour best-source rank(), then
-- sorted them again to group them, with numeric arithmetic on every row. Now:
--
-- 1. One hash aggregate over the window's evidence per segment (a UTC day, or an hour at
--    hour grain, with one price book in force), tenant, metric and source: the raw quantity
--    summed, and the hours it covers as a bitmask (bit h = UTC hour h). No sort of the rows.
-- 2. The best source, per segment, tenant and metric, on those few groups: a source counts
--    the hours no better source (telemetry_metrics.priority, then source name: 0010's rank)
--    has. Where it has all its hours (one source, as most evidence; or the best source every
--    hour, as a real collector) its sum is used whole; where it has none it is dropped; only
--    where it has some of them (a source missing for some hours) are its rows read again, by
--    their unique key, and summed for those hours.
-- 3. Unit conversion once per group instead of once per row: memory GB-seconds =
--    sum x p_memory_mb x 0.001 and egress GB = sum x 0.000000001 are exact products, so they
--    equal 0010's sum of per-row quotients whenever each quotient was exact. PostgreSQL
--    divides to 16 significant digits (or the dividend's scale if more), so a quotient is
--    exact when that leaves room for the divisor's digits; the scale it is given only shrinks
--    as the dividend grows, so the group's sum stands for its largest row (and the sum's
--    scale is its rows' largest). A group whose sum fails the test (more than ~10 TB of
--    egress, or ~4,500 connections all day, in a day) is summed row by row as in 0010. The
--    result gets 0010's numeric scale: the largest scale of the per-row quotients, which is
--    the smallest positive row's, a zero row's, or the input scale's.
--    Storage (bytes / 1e9 / hours in the month: inexact) stays per row, as in 0010.
--    Compute and background CPU seconds are sums as they were.
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
COMMENT ON FUNCTION tenantcost_priced_usage(timestamptz, timestamptz, text, text, numeric, text[]) IS
'Usage evidence in [p_start, p_end) priced with the book of provider p_provider in force at each hour (among p_books: the stored books that pass validation, so a bad row never prices anything), grouped to p_grain (hour | day | month). Per hour, tenant and metric the best source counts (telemetry_metrics.priority, then source; storage: every source). compute: CPU seconds x price per vCPU-second; memory: connection-seconds x p_memory_mb / 1000 x price per GB-second (modelled); storage: bytes / 1e9 / hours in that month per hour sampled (GB-months) x price per GB-month; network: egress bytes / 1e9 x price per GB. Amounts rounded once, to 12 decimals. (Revision 0024: the rows of 0010 and 0020, to the last digit and scale, from sums per day, tenant, metric and source instead of per-row ranking and arithmetic.)';
