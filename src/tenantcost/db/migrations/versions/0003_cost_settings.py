"""Cost settings (IP constant), cost audit trail, price books.

SQL: tenantcost/db/migrations/sql/0003_cost_settings.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
STEM = "0003_cost_settings"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
