"""Dashboard indexes: the tables' default sorts, tenant alerts, signals in force.

SQL: tenantcost/db/migrations/sql/0019_dashboard_indexes.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None
STEM = "0019_dashboard_indexes"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
