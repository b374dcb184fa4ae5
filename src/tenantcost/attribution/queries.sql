-- Cost attribution: gathering usage and writing the ledger. Parameters are always bound.

-- name: usage_by_tenant_hour
-- The best source per tenant-hour-metric (telemetry_metrics.priority); storage sources add up.
WITH ranked AS (
    SELECT u.tenant_id, u.hour, u.metric, u.source, u.quantity,
           rank() OVER (PARTITION BY u.tenant_id, u.hour, u.metric
                        ORDER BY m.priority, u.source) AS r
      FROM tenant_usage_hourly u
      JOIN telemetry_metrics m USING (metric, source)
     WHERE u.hour >= %(start)s AND u.hour < %(end)s AND u.tenant_id IS NOT NULL
       AND u.metric IN ('compute_seconds', 'connection_seconds', 'storage_bytes', 'egress_bytes')
)
SELECT tenant_id, hour,
       coalesce(sum(quantity) FILTER (WHERE metric = 'compute_seconds' AND r = 1), 0) AS compute_seconds,
       coalesce(sum(quantity) FILTER (WHERE metric = 'connection_seconds' AND r = 1), 0) AS connection_seconds,
       coalesce(sum(quantity) FILTER (WHERE metric = 'storage_bytes'), 0) AS storage_bytes,
       coalesce(sum(quantity) FILTER (WHERE metric = 'egress_bytes' AND r = 1), 0) AS egress_bytes
  FROM ranked
 GROUP BY tenant_id, hour
 ORDER BY hour, tenant_id;

-- name: sources_used
SELECT u.metric, u.source, m.kind, count(DISTINCT (u.tenant_id, u.hour)) AS tenant_hours
  FROM tenant_usage_hourly u JOIN telemetry_metrics m USING (metric, source)
 WHERE u.hour >= %(start)s AND u.hour < %(end)s AND u.tenant_id IS NOT NULL
   AND u.metric IN ('compute_seconds', 'connection_seconds', 'storage_bytes', 'egress_bytes')
 GROUP BY u.metric, u.source, m.kind
 ORDER BY u.metric, u.source;

-- name: host_by_hour
SELECT hour, metric, sum(quantity) AS quantity FROM host_usage_hourly
 WHERE hour >= %(start)s AND hour < %(end)s
   AND metric IN ('cpu_seconds', 'memory_gb_seconds', 'storage_bytes')
 GROUP BY hour, metric
 ORDER BY hour, metric;

-- name: invoice
SELECT amount, currency FROM host_invoices WHERE period = %(period)s;

-- name: invoice_upsert
INSERT INTO host_invoices (period, amount, currency) VALUES (%(period)s, %(amount)s, %(currency)s)
ON CONFLICT (period) DO UPDATE
   SET amount = EXCLUDED.amount, currency = EXCLUDED.currency,
       recorded_at = now(), recorded_by = current_user;

-- name: has_cost_allocation
SELECT to_regclass('business_cost_allocation') IS NOT NULL AS present;

-- name: cost_allocation
SELECT tenant_id, coalesce(total_infrastructure_cost, 0) AS vps,
       coalesce(total_email_service_cost, 0) AS ips
  FROM business_cost_allocation;

-- name: ledger_delete
DELETE FROM tenant_cost_ledger WHERE period = %(period)s;

-- name: totals_delete
DELETE FROM tenant_cost_totals WHERE period = %(period)s;

-- name: ledger_copy
COPY tenant_cost_ledger (period, period_start, period_end, mode, line, tenant_id, driver,
      quantity, unit, unit_price, amount, price_book, currency, basis) FROM STDIN;

-- name: totals_insert
INSERT INTO tenant_cost_totals (period, mode, basis, host_total, total, attributed, idle,
                                scale, currency, notes)
VALUES (%(period)s, %(mode)s, %(basis)s, %(host_total)s, %(total)s, %(attributed)s, %(idle)s,
        %(scale)s, %(currency)s, %(notes)s);

-- name: ledger_for_period
SELECT l.mode, l.line, l.tenant_id, c.name AS company_name, l.driver, l.quantity, l.unit,
       l.unit_price, l.amount, l.price_book, l.basis
  FROM tenant_cost_ledger l LEFT JOIN companies c ON c.id = l.tenant_id
 WHERE l.period = %(period)s
 ORDER BY l.mode, l.tenant_id, l.driver;

-- name: totals_for_period
SELECT mode, basis, host_total, total, attributed, idle, scale, currency, notes, computed_at
  FROM tenant_cost_totals WHERE period = %(period)s ORDER BY mode;
