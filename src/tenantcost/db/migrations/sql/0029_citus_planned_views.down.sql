-- Revision 0029 down: tenant_usage_by_day's correlated form and shared_infrastructure_cost's
-- per-row call again (as revision 0027 left them).
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
