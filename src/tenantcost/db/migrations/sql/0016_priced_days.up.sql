-- 0016: priced days and changed days, so a month's attribution re-prices only what changed
-- (issue 15). Re-pricing every day of a month from the hourly evidence is the cost that grows
-- with tenants x hours; a day whose evidence and pricing inputs are unchanged since it was
-- priced gives the same tenant_cost_daily rows again, so it is skipped.

-- Each UTC day in tenant_cost_daily, when it was priced and with what (provider, memory
-- model and a digest of the price books used): a change of any of them re-prices the day.
CREATE TABLE IF NOT EXISTS tenant_cost_days (
    day       date PRIMARY KEY,
    priced_at timestamptz NOT NULL DEFAULT now(),
    pricing   text NOT NULL
);
COMMENT ON TABLE tenant_cost_days IS
'UTC days priced into tenant_cost_daily, when, and with which pricing inputs (provider, connection memory model, digest of the price books): attribution re-prices a day when these differ or its evidence changed (tenant_usage_changed_days).';

-- UTC days whose usage evidence changed (inserted, updated or deleted) since they were last
-- priced; filled by statement triggers on tenant_usage_hourly, whatever the writer.
CREATE TABLE IF NOT EXISTS tenant_usage_changed_days (
    day date PRIMARY KEY
);
COMMENT ON TABLE tenant_usage_changed_days IS
'UTC days whose tenant_usage_hourly rows changed since the day was last priced (statement triggers with transition tables, so any writer marks them); pricing a day removes its mark.';

CREATE OR REPLACE FUNCTION tenantcost_note_usage_days() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('INSERT INTO %I.tenant_usage_changed_days (day) '
                   'SELECT DISTINCT (hour AT TIME ZONE ''UTC'')::date FROM changed '
                   'ON CONFLICT (day) DO NOTHING', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION tenantcost_note_usage_days() FROM PUBLIC;

DROP TRIGGER IF EXISTS tenantcost_usage_days_insert ON tenant_usage_hourly;
CREATE TRIGGER tenantcost_usage_days_insert AFTER INSERT ON tenant_usage_hourly
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION tenantcost_note_usage_days();
DROP TRIGGER IF EXISTS tenantcost_usage_days_update ON tenant_usage_hourly;
CREATE TRIGGER tenantcost_usage_days_update AFTER UPDATE ON tenant_usage_hourly
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION tenantcost_note_usage_days();
DROP TRIGGER IF EXISTS tenantcost_usage_days_delete ON tenant_usage_hourly;
CREATE TRIGGER tenantcost_usage_days_delete AFTER DELETE ON tenant_usage_hourly
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION tenantcost_note_usage_days();

-- Evidence written before this revision: every day with evidence is re-priced once.
INSERT INTO tenant_usage_changed_days (day)
SELECT DISTINCT (hour AT TIME ZONE 'UTC')::date FROM tenant_usage_hourly
ON CONFLICT (day) DO NOTHING;

REVOKE ALL ON tenant_cost_days, tenant_usage_changed_days FROM PUBLIC;
GRANT SELECT ON tenant_cost_days, tenant_usage_changed_days TO business_analysts;
GRANT ALL ON tenant_cost_days, tenant_usage_changed_days TO db_administrators;
