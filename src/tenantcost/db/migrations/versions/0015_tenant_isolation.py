"""Tenant isolation against a hostile session: signed tenant, rollup views, finance, audit.

SQL: tenantcost/db/migrations/sql/0015_tenant_isolation.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None
STEM = "0015_tenant_isolation"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
