DROP TABLE IF EXISTS tenantcost_tenant_key;
