-- Revision 0026 down: the readers join payments and emails to subscriptions themselves again.
DROP VIEW IF EXISTS tenantcost_tenant_payments;
DROP VIEW IF EXISTS tenantcost_tenant_emails;
