-- 0023 down: the token bound to the local backend again, the key local, SET not propagated
-- (all on Citus only; nothing to do on PostgreSQL).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    EXECUTE (
        SELECT format('CREATE OR REPLACE FUNCTION tenantcost_current_tenant() RETURNS uuid '
                      'LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = %I, pg_temp '
                      'AS %L', current_schema(),
                      replace(p.prosrc,
                              'parts[4]::bigint IS DISTINCT FROM tenantcost_citus_session_pid()',
                              'parts[4]::bigint <> pg_backend_pid()'))
          FROM pg_catalog.pg_proc p
         WHERE p.oid = 'tenantcost_current_tenant()'::regprocedure
    );
    DROP FUNCTION IF EXISTS tenantcost_citus_session_pid();
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
                WHERE logicalrelid = 'tenantcost_tenant_key'::regclass) THEN
        PERFORM undistribute_table('tenantcost_tenant_key');
    END IF;
    EXECUTE format('ALTER DATABASE %I RESET citus.propagate_set_commands', current_database());
END
$$;
