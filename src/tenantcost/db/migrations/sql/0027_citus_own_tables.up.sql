-- 0027: the keys of tenantcost's own distributed tables carry the tenant (issue 16).
-- Citus enforces a unique key per shard, so a table distributed by tenant_id needs tenant_id
-- in every unique key. On PostgreSQL the keys mean what they meant: tier_decisions.id is
-- still generated (GENERATED ALWAYS) and unique, and an app event is still counted once per
-- source and event id (an event carries one tenant; a source re-sending it sends the same).
-- Idempotent: each key is rebuilt only where it lacks tenant_id.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint c
                    WHERE c.conrelid = 'tier_decisions'::regclass AND c.contype = 'p'
                      AND c.conkey[1] = (SELECT attnum FROM pg_attribute
                                          WHERE attrelid = 'tier_decisions'::regclass
                                            AND attname = 'tenant_id')) THEN
        ALTER TABLE tier_decisions DROP CONSTRAINT IF EXISTS tier_decisions_pkey;
        ALTER TABLE tier_decisions ADD CONSTRAINT tier_decisions_pkey PRIMARY KEY (tenant_id, id);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint c
                    WHERE c.conrelid = 'telemetry_app_events'::regclass AND c.contype = 'p'
                      AND c.conkey[1] = (SELECT attnum FROM pg_attribute
                                          WHERE attrelid = 'telemetry_app_events'::regclass
                                            AND attname = 'tenant_id')) THEN
        ALTER TABLE telemetry_app_events DROP CONSTRAINT IF EXISTS telemetry_app_events_pkey;
        ALTER TABLE telemetry_app_events
            ADD CONSTRAINT telemetry_app_events_pkey PRIMARY KEY (tenant_id, source_id, event_id);
    END IF;
END
$$;
COMMENT ON CONSTRAINT tier_decisions_pkey ON tier_decisions IS
'(tenant_id, id): the tenant first, so Citus can enforce it per shard; id stays unique (generated).';
COMMENT ON CONSTRAINT telemetry_app_events_pkey ON telemetry_app_events IS
'(tenant_id, source_id, event_id): an event counts once (its tenant travels with it); the tenant first for Citus.';
