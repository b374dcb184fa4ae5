-- name: tenant_key_get
-- The key that signs app.current_tenant_id (revision 0015); owner and db_administrators only.
SELECT key, created_at, created_by FROM tenantcost_tenant_key;

-- name: tenant_key_set
SELECT tenantcost_set_tenant_key(%(key)s);
