-- Dashboard users, their sessions, the cookie-signing secret and daily snapshots (issue 8).
-- Internal only: these tables are never granted to application_service (tenants).
-- Idempotent: every statement can run again on a database that already has them.

CREATE TABLE IF NOT EXISTS dashboard_users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    role          text NOT NULL CHECK (role IN ('executive', 'analyst', 'dba')),
    password_hash text NULL,   -- scrypt$N$r$p$salt$hash (base64); NULL: token-only user
    token_hash    text NULL UNIQUE,  -- sha256 hex of the API token; NULL: no token
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL DEFAULT current_user,
    last_login_at timestamptz NULL
);
COMMENT ON TABLE dashboard_users IS
'People who may use the internal dashboard and API (`tenantcost users`). Roles: executive and analyst read, dba also changes cost settings. Passwords are scrypt hashes, tokens sha256 hashes; neither is stored in clear.';

CREATE TABLE IF NOT EXISTS dashboard_sessions (
    id_hash     text PRIMARY KEY,  -- sha256 hex of the session id carried (signed) in the cookie
    user_id     bigint NOT NULL REFERENCES dashboard_users (id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_dashboard_sessions_user ON dashboard_sessions (user_id);
CREATE INDEX IF NOT EXISTS idx_dashboard_sessions_expires ON dashboard_sessions (expires_at);
COMMENT ON TABLE dashboard_sessions IS
'Logged-in dashboard sessions: removing a row (logout, `tenantcost users remove`) ends the session at once.';

CREATE TABLE IF NOT EXISTS dashboard_secret (
    id         integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    secret     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dashboard_secret IS
'The key that signs dashboard session cookies, written once by the first `tenantcost serve` (unless TENANTCOST_WEB_SECRET_KEY is set).';

CREATE TABLE IF NOT EXISTS dashboard_snapshots (
    day         date NOT NULL,
    plan_name   text NOT NULL,
    tenants     integer NOT NULL,
    revenue     numeric(14,2) NOT NULL,
    cost        numeric(14,2) NOT NULL,
    taken_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, plan_name)
);
COMMENT ON TABLE dashboard_snapshots IS
'One row per plan and UTC day: tenants, monthly revenue and cost from executive_business_rollup, taken by the dashboard''s jobs; the overview''s margin trend compares today with about 30 days ago.';

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['dashboard_users', 'dashboard_sessions', 'dashboard_secret',
                             'dashboard_snapshots'] LOOP
        EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', t);
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'application_service') THEN
            EXECUTE format('REVOKE ALL ON %I FROM application_service', t);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'db_administrators') THEN
            EXECUTE format('GRANT ALL ON %I TO db_administrators', t);
        END IF;
    END LOOP;
END
$$;
