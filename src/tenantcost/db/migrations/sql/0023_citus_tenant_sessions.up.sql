-- ============================================================================
-- Citus: a signed tenant session isolates on the workers too (issue 16). No-op on PostgreSQL.
-- ============================================================================
-- On a distributed table the row-level policies run on the workers' shards, in backends
-- that serve the coordinator's session. There tenantcost_current_tenant() must
--   * see app.current_tenant_id: Citus forwards `SET LOCAL` (never set_config() nor a
--     session SET) when citus.propagate_set_commands is 'local' — the database's default
--     from here on (tenantcost's set_tenant() issues SET LOCAL);
--   * read the key: tenantcost_tenant_key becomes a reference table (a copy on every node,
--     same privileges: owner and db_administrators only), read from inside a shard's query
--     (citus.allow_nested_distributed_execution for this function: a reference table read
--     locally, never a distributed table);
--   * bind the token to the session, not the worker's backend: a worker backend carries the
--     global pid of the coordinator session it serves (citus_backend_gpid()), so the pid in
--     the token is compared with tenantcost_citus_session_pid(), which is pg_backend_pid()
--     on the coordinator and that session's pid on a worker. A client connected to a
--     worker directly has a global pid of its own node and is refused.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER DATABASE %I SET citus.propagate_set_commands = %L',
                   current_database(), 'local');
    -- (once the application is distributed; on local tables `db distribute` places it)
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE partmethod = 'h')
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
                        WHERE logicalrelid = 'tenantcost_tenant_key'::regclass) THEN
        PERFORM create_reference_table('tenantcost_tenant_key');
    END IF;
    CREATE OR REPLACE FUNCTION tenantcost_citus_session_pid() RETURNS bigint
    LANGUAGE sql STABLE AS $f$
        SELECT CASE WHEN c.nodeid IS NULL THEN pg_backend_pid()
                    ELSE citus_backend_gpid() - c.nodeid * 10000000000::bigint END
          FROM (SELECT (SELECT n.nodeid FROM pg_dist_node n WHERE n.groupid = 0) AS nodeid) c
    $f$;
    COMMENT ON FUNCTION tenantcost_citus_session_pid() IS
    'The coordinator backend pid of the session this backend works for (its own pid on the coordinator; the originating session''s on a worker): what a tenant token is bound to on Citus.';
    EXECUTE (
        SELECT format('CREATE OR REPLACE FUNCTION tenantcost_current_tenant() RETURNS uuid '
                      'LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = %I, pg_temp '
                      'SET citus.allow_nested_distributed_execution = on AS %L', current_schema(),
                      replace(p.prosrc, 'parts[4]::bigint <> pg_backend_pid()',
                              'parts[4]::bigint IS DISTINCT FROM tenantcost_citus_session_pid()'))
          FROM pg_catalog.pg_proc p
         WHERE p.oid = 'tenantcost_current_tenant()'::regprocedure
    );
END
$$;
