-- name: window_usage
-- Usage cost of a report's window by driver (tenant_cost_daily, list prices): the days in
-- [start, end), tenants' lines and the lines no tenant carries.
SELECT driver, sum(amount) AS amount
  FROM tenant_cost_daily
 WHERE day >= %(start)s::date AND day < %(end)s::date
 GROUP BY driver
 ORDER BY driver;

-- name: window_signals
-- Tier signals decided for hours inside the report's window, newest first.
SELECT d.hour, c.name AS company_name, d.tier, d.from_level, d.to_level, d.ceiling,
       d.figure, d.ceiling_value, d.ratio
  FROM tier_decisions d LEFT JOIN companies c ON c.id = d.tenant_id
 WHERE d.hour >= %(start)s AND d.hour < %(end)s
 ORDER BY d.hour DESC, d.id DESC
 LIMIT %(limit)s;

-- name: window_alerts
-- Alert episodes opened (or closed) inside the report's window, newest first.
SELECT kind, subject, message, opened_at, closed_at
  FROM tier_alerts
 WHERE (opened_at >= %(start)s AND opened_at < %(end)s)
    OR (closed_at >= %(start)s AND closed_at < %(end)s)
 ORDER BY opened_at DESC, id DESC
 LIMIT %(limit)s;

-- name: month_known
SELECT period FROM tenant_cost_periods WHERE period = %(period)s;

-- name: anchor
-- The first time the scheduler saw this kind (kept); scheduled times after it are due.
INSERT INTO report_schedule_state (kind, anchored_at) VALUES (%(kind)s, %(now)s)
ON CONFLICT (kind) DO UPDATE SET kind = EXCLUDED.kind
RETURNING anchored_at;

-- name: anchor_read
-- The same without recording anything (before the scheduler first ran: now).
SELECT coalesce((SELECT anchored_at FROM report_schedule_state WHERE kind = %(kind)s),
                %(now)s::timestamptz) AS anchored_at;

-- name: last_due
SELECT max(due_at) AS due_at FROM report_runs WHERE kind = %(kind)s AND due_at IS NOT NULL;

-- name: insert_run
-- One run per (kind, period): a second generation of the same period (a restart, two
-- processes) inserts nothing and sends nothing.
INSERT INTO report_runs (kind, period_start, period_end, due_at, trigger, late, month,
                         provisional, summary, generated_at)
VALUES (%(kind)s, %(start)s, %(end)s, %(due_at)s, %(trigger)s, %(late)s, %(month)s,
        %(provisional)s, %(summary)s, %(generated_at)s)
ON CONFLICT (kind, period_start) DO NOTHING
RETURNING id;

-- name: find_run
SELECT id FROM report_runs WHERE kind = %(kind)s AND period_start = %(start)s;

-- name: insert_delivery
INSERT INTO report_deliveries (run_id, channel, target, dedupe_key, requested_by)
VALUES (%(run_id)s, %(channel)s, %(target)s, %(dedupe_key)s, %(requested_by)s)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id;

-- name: delivery_count
SELECT count(*) AS n FROM report_deliveries WHERE run_id = %(run_id)s AND channel = %(channel)s;

-- name: delivery_status
UPDATE report_deliveries SET status = %(status)s, updated_at = now()
 WHERE dedupe_key = %(dedupe_key)s;

-- name: history
-- Reports generated, newest period first, with each delivery's status.
SELECT r.id, r.kind, r.period_start, r.period_end, r.trigger, r.late, r.month,
       r.provisional, r.due_at, r.generated_at,
       d.channel, d.target, d.status, d.requested_by, d.updated_at
  FROM report_runs r LEFT JOIN report_deliveries d ON d.run_id = r.id
 WHERE (%(kind)s::text IS NULL OR r.kind = %(kind)s)
 ORDER BY r.period_start DESC, r.kind, d.id
 LIMIT %(limit)s;

-- name: last_period
SELECT max(period_start) AS p FROM report_runs WHERE kind = %(kind)s;

-- name: deliveries
SELECT channel, target, status, requested_by, updated_at
  FROM report_deliveries WHERE dedupe_key = ANY(%(keys)s) ORDER BY id;
