"""Citus: signed tenant sessions reach the workers (SET LOCAL propagated, key on every node).

SQL: tenantcost/db/migrations/sql/0023_citus_tenant_sessions.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None
STEM = "0023_citus_tenant_sessions"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
