-- Back to 0022: revision 0020's tenantcost_priced_usage (per-row rank and arithmetic).
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
