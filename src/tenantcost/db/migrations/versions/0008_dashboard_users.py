"""Dashboard users, sessions and roles.

SQL: tenantcost/db/migrations/sql/0008_dashboard_users.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
STEM = "0008_dashboard_users"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
