-- 0029: two views that Citus can plan once `db distribute` has sharded their tables.
--
-- shared_infrastructure_cost filtered the ledger by tenantcost_latest_period() per row; Citus
-- sends such a call to every shard, where the function's own read of tenant_cost_periods
-- would be a distributed query inside a shard's ("cannot execute a distributed query from a
-- query on a shard"). A scalar subquery is evaluated once first (on PostgreSQL an InitPlan,
-- on Citus a subplan on the coordinator), so the month is a constant by the time the shards
-- see it.
--
-- tenant_usage_by_day hid the daily evidence of a day where
-- any hourly evidence of that day and source remained, by a subquery correlated on the day
-- and source; once `db distribute` shards both tables by tenant, Citus refuses it ("complex
-- joins are only supported when all distributed tables are co-located and joined on their
-- distribution columns"). The (day, source) pairs are now listed once, uncorrelated (Citus
-- plans the list first, then sends it to every shard), and only from the hours of the days
-- the daily evidence spans, where hourly and daily overlap only after a bulk rewrite: an index
-- range on the hourly evidence, not a scan of it. The hours are grouped by the tenant column
-- itself, the nil UUID turned back to NULL outside: grouped by nullif(tenant_id, …) Citus
-- cannot group on the shards and pulls every hourly row to the coordinator (over its 1 GB
-- limit for a month at 10,000 tenants). The same rows either way (the down script restores
-- the correlated form; test_usage_retention compares the sums; a month at 10,000 tenants,
-- 1,391,092 rows, had the same md5 in both forms and on Citus).
CREATE OR REPLACE VIEW tenant_usage_by_day WITH (security_invoker = true) AS
SELECT x.day, nullif(x.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_id,
       x.metric, x.source, x.quantity, x.peak, x.last_hour, x.last_quantity, x.hours
  FROM (SELECT (u.hour AT TIME ZONE 'UTC')::date AS day, u.tenant_id, u.metric, u.source,
               sum(u.quantity) AS quantity, max(u.quantity) AS peak,
               extract(hour FROM max(u.hour) AT TIME ZONE 'UTC')::smallint AS last_hour,
               (array_agg(u.quantity ORDER BY u.hour DESC))[1] AS last_quantity,
               count(*)::smallint AS hours
          FROM tenant_usage_hourly u
         GROUP BY 1, u.tenant_id, u.metric, u.source
        UNION ALL
        SELECT d.day, d.tenant_id, d.metric, d.source, d.quantity, d.peak, d.last_hour,
               d.last_quantity, d.hours
          FROM tenant_usage_daily d
         WHERE (d.day, d.source) NOT IN (
                SELECT DISTINCT (u.hour AT TIME ZONE 'UTC')::date, u.source
                  FROM tenant_usage_hourly u
                 WHERE u.hour >= (SELECT min(x.day) FROM tenant_usage_daily x)::timestamp AT TIME ZONE 'UTC'
                   AND u.hour < ((SELECT max(x.day) FROM tenant_usage_daily x) + 1)::timestamp AT TIME ZONE 'UTC')) x;

CREATE OR REPLACE VIEW shared_infrastructure_cost WITH (security_invoker = true) AS
SELECT l.line, nullif(l.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_id, co.name AS company_name,
       sum(l.amount) FILTER (WHERE l.driver IN ('vps', 'shared_vps')) AS infrastructure_cost,
       sum(l.amount) FILTER (WHERE l.driver IN ('dedicated_ips', 'shared_ips')) AS email_service_cost,
       sum(l.amount) AS total_cost,
       p.allocation_rule, l.period
  FROM tenant_cost_ledger l
  JOIN tenant_cost_periods p ON p.period = l.period
  LEFT JOIN companies co ON co.id = l.tenant_id
 WHERE l.period = (SELECT tenantcost_latest_period())
   AND l.line IN ('shared_unallocated', 'no_active_subscription')
 GROUP BY l.line, l.tenant_id, co.name, p.allocation_rule, l.period;
