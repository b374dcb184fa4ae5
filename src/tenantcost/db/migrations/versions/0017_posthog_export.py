"""PostHog export watermarks (issue 17).

SQL: tenantcost/db/migrations/sql/0017_posthog_export.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None
STEM = "0017_posthog_export"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
