"""The keys of tenantcost's own tables to distribute carry the tenant: tier_decisions
(tenant_id, id), telemetry_app_events (tenant_id, source_id, event_id) (Citus enforces a
unique key per shard).

SQL: tenantcost/db/migrations/sql/0027_citus_own_tables.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None
STEM = "0027_citus_own_tables"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
