-- Finance-maintained cost constants, their audit trail, and stored price books.

CREATE TABLE IF NOT EXISTS cost_settings (
    key         text PRIMARY KEY,
    value       text NOT NULL,
    description text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT current_user,
    CONSTRAINT chk_cost_settings_smtp_ip_monthly_cost
        CHECK (key <> 'smtp_ip_monthly_cost' OR value ~ '^[0-9]{1,4}(\.[0-9]{1,2})?$')
);
COMMENT ON TABLE cost_settings IS
'Configurable internal cost constants (e.g. smtp_ip_monthly_cost); change with `tenantcost costs set`, every change is audited in cost_audit.';

INSERT INTO cost_settings (key, value, description)
VALUES ('smtp_ip_monthly_cost', '4.99',
        'Monthly USD per dedicated SMTP IP (seed 000: internal Hostwinds baseline of $4.99).')
ON CONFLICT (key) DO NOTHING;

CREATE TABLE IF NOT EXISTS cost_audit (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text NOT NULL DEFAULT current_user,
    entity     text NOT NULL CHECK (entity IN ('setting', 'vps', 'ip')),
    entity_id  text NOT NULL,
    old_value  text NULL,
    new_value  text NULL,
    source     text NOT NULL,
    reason     text NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_cost_audit_entity ON cost_audit (entity, entity_id, changed_at);
COMMENT ON TABLE cost_audit IS
'Every change to a cost input: settings, VPS and IP approximate_cost (who, when, old, new, source, reason).';

CREATE TABLE IF NOT EXISTS price_books (
    name           text PRIMARY KEY,
    provider       text NOT NULL,
    effective_from timestamptz NOT NULL,
    currency       text NOT NULL,
    source_url     text NOT NULL,
    source_date    date NULL,
    document       jsonb NOT NULL,
    imported_at    timestamptz NOT NULL DEFAULT now(),
    imported_by    text NOT NULL DEFAULT current_user
);
CREATE INDEX IF NOT EXISTS idx_price_books_provider_effective ON price_books (provider, effective_from);
