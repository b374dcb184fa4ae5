"""The seed's tenant_resource_usage reads the days rolled up into daily evidence too.

SQL: tenantcost/db/migrations/sql/0022_usage_view_daily.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None
STEM = "0022_usage_view_daily"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
