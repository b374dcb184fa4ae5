-- Dashboard users, sessions and snapshots are data: kept unless --drop-data.
-- Sessions are not: a rolled-back dashboard must not leave logins alive.
DO $$
BEGIN
    IF to_regclass('dashboard_sessions') IS NOT NULL THEN
        DELETE FROM dashboard_sessions;
    END IF;
END
$$;
