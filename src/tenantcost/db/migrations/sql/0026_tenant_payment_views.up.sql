-- Revision 0026: the payments and emails of each tenant (the application's rows reach their
-- tenant through their subscription), read by the month's figures (attribution
-- figures_insert) and the tenant page's 12 months. On PostgreSQL the join is by subscription
-- id, as before. On Citus, where payments / billing_analytics are distributed by tenant_id and
-- co-located with subscriptions, the join also matches tenant_id: Citus then joins shard by
-- shard instead of repartitioning both tables (6.7 s instead of 60 ms for three tenants'
-- payments on a coordinator with 2 workers, each time the figures were refreshed).
-- security_invoker: whoever reads them sees the rows their own grants and policies allow.
DO $$
DECLARE
    pay_join text := 's.id = py.subscription_id';
    mail_join text := 's.id = ba.subscription_id';
    colocated text[] := '{}';
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE $q$SELECT coalesce(array_agg(p.logicalrelid::regclass::text), '{}')
                     FROM pg_catalog.pg_dist_partition p
                     JOIN pg_catalog.pg_dist_partition s
                       ON s.logicalrelid = 'subscriptions'::regclass
                      AND s.colocationid = p.colocationid AND s.partmethod = 'h'
                      AND column_to_column_name(s.logicalrelid, s.partkey) = 'tenant_id'
                    WHERE p.logicalrelid IN (to_regclass('payments'),
                                             to_regclass('billing_analytics'))
                      AND column_to_column_name(p.logicalrelid, p.partkey) = 'tenant_id'$q$
           INTO colocated;
    END IF;
    IF 'payments' = ANY (colocated) THEN
        pay_join := pay_join || ' AND s.tenant_id = py.tenant_id';
    END IF;
    IF 'billing_analytics' = ANY (colocated) THEN
        mail_join := mail_join || ' AND s.tenant_id = ba.tenant_id';
    END IF;
    EXECUTE format(
        'CREATE OR REPLACE VIEW tenantcost_tenant_payments WITH (security_invoker = true) AS '
        'SELECT s.tenant_id, py.subscription_id, py.amount, py.billing_period_start '
        '  FROM payments py JOIN subscriptions s ON %s', pay_join);
    EXECUTE format(
        'CREATE OR REPLACE VIEW tenantcost_tenant_emails WITH (security_invoker = true) AS '
        'SELECT s.tenant_id, ba.subscription_id, ba.emails_sent, ba.period_start '
        '  FROM billing_analytics ba JOIN subscriptions s ON %s', mail_join);
END
$$;
COMMENT ON VIEW tenantcost_tenant_payments IS
'Payments with the tenant of their subscription (on Citus, joined on the tenant too where payments is co-located with subscriptions).';
COMMENT ON VIEW tenantcost_tenant_emails IS
'billing_analytics rows (emails sent per period) with the tenant of their subscription (on Citus, joined on the tenant too where co-located).';
REVOKE ALL ON tenantcost_tenant_payments, tenantcost_tenant_emails FROM PUBLIC;
GRANT SELECT ON tenantcost_tenant_payments, tenantcost_tenant_emails
    TO business_analysts, db_administrators;
