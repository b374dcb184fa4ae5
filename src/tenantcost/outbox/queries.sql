-- name: enqueue
-- One event for one sink; a second event with the same (sink, dedupe_key) is dropped.
INSERT INTO outbox (sink, dedupe_key, payload)
VALUES (%(sink)s, %(dedupe_key)s, %(payload)s)
ON CONFLICT (sink, dedupe_key) DO NOTHING
RETURNING id;

-- name: claim_next
-- The oldest due event of the given sinks, locked for this transaction; another drainer
-- skips it (no double send) and takes the next one.
SELECT id, sink, dedupe_key, payload, created_at, attempts
  FROM outbox
 WHERE delivered_at IS NULL
   AND next_attempt_at <= %(now)s
   AND sink = ANY(%(sinks)s)
   AND NOT (id = ANY(%(tried)s))  -- one attempt per event per drain, however short the backoff
 ORDER BY next_attempt_at, id
 LIMIT 1
   FOR UPDATE SKIP LOCKED;

-- name: mark_delivered
UPDATE outbox
   SET delivered_at = %(now)s, attempts = attempts + 1, last_error = NULL
 WHERE id = %(id)s;

-- name: mark_failed
-- next_attempt_at NULL -> 'infinity': given up after the sink's last attempt (`outbox retry`).
UPDATE outbox
   SET attempts = attempts + 1, last_error = %(error)s,
       next_attempt_at = coalesce(%(next_attempt_at)s::timestamptz, 'infinity')
 WHERE id = %(id)s;

-- name: retry
-- Given-up (or only waiting) events become due now; attempts start again from 0.
UPDATE outbox
   SET next_attempt_at = now(), attempts = 0
 WHERE delivered_at IS NULL
   AND (%(id)s::bigint IS NULL OR id = %(id)s)
   AND (%(sink)s::text IS NULL OR sink = %(sink)s);

-- name: list
SELECT id, sink, dedupe_key,
       CASE WHEN delivered_at IS NOT NULL THEN 'delivered'
            WHEN next_attempt_at = 'infinity' THEN 'given_up'
            ELSE 'pending' END AS status,
       attempts, created_at,
       CASE WHEN next_attempt_at = 'infinity' THEN NULL ELSE next_attempt_at END
           AS next_attempt_at,
       delivered_at, last_error
  FROM outbox
 WHERE (%(all)s OR delivered_at IS NULL)
   AND (%(sink)s::text IS NULL OR sink = %(sink)s)
 ORDER BY id DESC
 LIMIT %(limit)s;

-- name: backlog
-- Per sink: events waiting (pending, incl. given up), given up, the oldest waiting one's age,
-- and failed attempts so far (every attempt except the one that delivered).
SELECT sink,
       count(*) FILTER (WHERE delivered_at IS NULL) AS pending,
       count(*) FILTER (WHERE delivered_at IS NULL AND next_attempt_at = 'infinity')
           AS given_up,
       EXTRACT(EPOCH FROM %(now)s - min(created_at) FILTER (WHERE delivered_at IS NULL))
           AS oldest_pending_seconds,
       coalesce(sum(attempts - CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END), 0)
           AS failed_attempts
  FROM outbox
 GROUP BY sink
 ORDER BY sink;
