-- PostHog export (issue 17): per event kind, how far the export has enqueued events into the
-- outbox (sink `posthog`), so `tenantcost export posthog` and its job continue where they
-- stopped. What was enqueued is the outbox itself (one row per (sink, dedupe_key)), so a
-- re-scan never queues an event twice. Idempotent.
CREATE TABLE IF NOT EXISTS posthog_export_state (
    kind        text PRIMARY KEY CHECK (kind ~ '^[a-z][a-z0-9_]*$'),
    through     timestamptz NOT NULL,
    last_run_at timestamptz NOT NULL DEFAULT now(),
    enqueued    bigint NOT NULL DEFAULT 0 CHECK (enqueued >= 0)
);
COMMENT ON TABLE posthog_export_state IS
'PostHog export watermarks: per event kind, the latest event time enqueued for the posthog outbox sink (through), when the export last ran and how many events it has enqueued in all.';

REVOKE ALL ON posthog_export_state FROM PUBLIC;
GRANT SELECT ON posthog_export_state TO business_analysts;  -- internal only
GRANT ALL ON posthog_export_state TO db_administrators;

-- The outbox drain claims the oldest due event (ORDER BY next_attempt_at, id LIMIT 1 FOR
-- UPDATE SKIP LOCKED). With a PostHog backfill of thousands of due events that was a sort of
-- every due row per claim (0.5 s each at 8,000 waiting, measured); in this order it is an
-- index scan that stops at the first row (0.2 ms).
CREATE INDEX IF NOT EXISTS idx_outbox_due_order ON outbox (next_attempt_at, id)
    WHERE delivered_at IS NULL;
