-- --drop-data: also remove the tenant ownership columns tenantcost added.
ALTER TABLE vps_instances     DROP COLUMN IF EXISTS tenant_id;
ALTER TABLE smtp_ip_addresses DROP COLUMN IF EXISTS tenant_id;
