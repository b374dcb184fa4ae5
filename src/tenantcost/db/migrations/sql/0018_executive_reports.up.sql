-- Scheduled executive reports (issue 17): which (kind, period) reports were generated, and
-- every delivery of them (email, webhook, directory) through the outbox. Idempotent.
CREATE TABLE IF NOT EXISTS report_schedule_state (
    kind        text PRIMARY KEY CHECK (kind IN ('daily', 'weekly', 'monthly')),
    anchored_at timestamptz NOT NULL
);
COMMENT ON TABLE report_schedule_state IS
'When the scheduler first saw each report kind: scheduled times after this are due (nothing older is back-filled).';

CREATE TABLE IF NOT EXISTS report_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('daily', 'weekly', 'monthly')),
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL CHECK (period_end > period_start),
    due_at       timestamptz NULL,
    trigger      text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    late         boolean NOT NULL DEFAULT false,
    month        text NULL,
    provisional  boolean NOT NULL DEFAULT true,
    summary      jsonb NOT NULL DEFAULT '{}',
    generated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_report_runs_kind_period UNIQUE (kind, period_start)
);
CREATE INDEX IF NOT EXISTS idx_report_runs_due ON report_runs (kind, due_at);
COMMENT ON TABLE report_runs IS
'One row per (kind, period): the executive report was generated (by the schedule, or by hand); a restart never generates or sends it twice. late: generated after its scheduled time had long passed (the service was down).';

CREATE TABLE IF NOT EXISTS report_deliveries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       bigint NOT NULL REFERENCES report_runs (id) ON DELETE CASCADE,
    channel      text NOT NULL CHECK (channel IN ('email', 'webhook', 'directory')),
    target       text NOT NULL,
    dedupe_key   text NOT NULL UNIQUE,
    status       text NOT NULL DEFAULT 'queued',
    requested_by text NULL,
    queued_at    timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_report_deliveries_run ON report_deliveries (run_id);
COMMENT ON TABLE report_deliveries IS
'Each delivery of a report run: queued in the outbox with the run, then delivered / retrying / failed (the outbox drain records the outcome). target is shown to people and holds no secret.';

REVOKE ALL ON report_schedule_state, report_runs, report_deliveries FROM PUBLIC;
GRANT SELECT ON report_schedule_state, report_runs, report_deliveries TO business_analysts;
GRANT ALL ON report_schedule_state, report_runs, report_deliveries TO db_administrators;
