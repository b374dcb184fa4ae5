"""Usage evidence hourly for a window of days, then rolled up to daily evidence (issue 15).

SQL: tenantcost/db/migrations/sql/0020_usage_rollup.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None
STEM = "0020_usage_rollup"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
