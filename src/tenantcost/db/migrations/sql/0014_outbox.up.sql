-- A persisted outbox: events recorded in the same transaction as what caused them (a tier
-- decision, an alert, later a PostHog event or a scheduled report), delivered afterwards by
-- `tenantcost outbox drain` with retries and exponential backoff. Idempotent.
CREATE TABLE IF NOT EXISTS outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sink            text NOT NULL CHECK (sink ~ '^[a-z][a-z0-9_]*$'),
    dedupe_key      text NOT NULL CHECK (length(dedupe_key) BETWEEN 1 AND 200),
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text NULL,
    delivered_at    timestamptz NULL,
    CONSTRAINT uq_outbox_sink_dedupe_key UNIQUE (sink, dedupe_key)
);
CREATE INDEX IF NOT EXISTS idx_outbox_due ON outbox (sink, next_attempt_at)
    WHERE delivered_at IS NULL;
COMMENT ON TABLE outbox IS
'Events waiting for delivery to a sink (webhook, later posthog / reports): one row per (sink, dedupe_key), written in the transaction that recorded the event, delivered at least once by `tenantcost outbox drain` (receivers dedupe on dedupe_key).';
COMMENT ON COLUMN outbox.next_attempt_at IS
'Not tried again before this time: exponential backoff after each failed attempt.';

REVOKE ALL ON outbox FROM PUBLIC;
GRANT SELECT ON outbox TO business_analysts;  -- internal only, never to application_service
GRANT ALL ON outbox TO db_administrators;
