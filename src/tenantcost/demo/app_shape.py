"""The application in the shape it takes to move to Citus: companies distributed by id;
subscriptions, payments and billing_analytics keyed and distributed by tenant_id, co-located
with companies; plans and the VPS/IP tables reference tables (shared hosts carry no tenant).
The Citus tests, the plain-PostgreSQL tests of the same shape and ``python -m bench citus``
create it before ``tenantcost db upgrade`` (docs/citus.md, "Installing into a distributed
application")."""

from __future__ import annotations

APP_SCHEMA = """
SET citus.multi_shard_modify_mode TO 'sequential';
CREATE TABLE companies (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE plans (id uuid PRIMARY KEY, name text NOT NULL, price_monthly numeric(10,2) NOT NULL);
CREATE TABLE subscriptions (id uuid NOT NULL, tenant_id uuid NOT NULL, plan_id uuid NOT NULL,
    status text NOT NULL, current_period_start timestamptz NOT NULL,
    current_period_end timestamptz NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE payments (id uuid NOT NULL, tenant_id uuid NOT NULL, subscription_id uuid NOT NULL,
    amount numeric(12,2) NOT NULL, billing_period_start timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id));
CREATE TABLE billing_analytics (id uuid NOT NULL, tenant_id uuid NOT NULL,
    subscription_id uuid NOT NULL, period_start timestamptz NOT NULL,
    emails_sent bigint NOT NULL DEFAULT 0, PRIMARY KEY (tenant_id, id));
CREATE TABLE vps_instances (id uuid PRIMARY KEY, name text, status text NOT NULL);
CREATE TABLE smtp_ip_addresses (id uuid PRIMARY KEY, vps_instance_id uuid, ip_address text,
    status text NOT NULL);
SELECT create_distributed_table('companies', 'id');
SELECT create_distributed_table('subscriptions', 'tenant_id', colocate_with => 'companies');
SELECT create_distributed_table('payments', 'tenant_id', colocate_with => 'companies');
SELECT create_distributed_table('billing_analytics', 'tenant_id', colocate_with => 'companies');
SELECT create_reference_table('plans');
SELECT create_reference_table('vps_instances');
SELECT create_reference_table('smtp_ip_addresses');
ALTER TABLE subscriptions ADD FOREIGN KEY (tenant_id) REFERENCES companies (id);
ALTER TABLE subscriptions ADD FOREIGN KEY (plan_id) REFERENCES plans (id);
ALTER TABLE payments ADD FOREIGN KEY (tenant_id, subscription_id)
    REFERENCES subscriptions (tenant_id, id);
"""


def local_schema() -> str:
    """APP_SCHEMA without its Citus statements: the same tables on plain PostgreSQL."""
    citus = ("citus", "create_distributed_table", "create_reference_table")
    return "\n".join(
        line for line in APP_SCHEMA.splitlines() if not any(word in line for word in citus)
    )
