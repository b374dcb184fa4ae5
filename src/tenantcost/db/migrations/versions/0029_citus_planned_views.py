"""tenant_usage_by_day and shared_infrastructure_cost in forms Citus can plan.

SQL: tenantcost/db/migrations/sql/0029_citus_planned_views.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None
STEM = "0029_citus_planned_views"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
