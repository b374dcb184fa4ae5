"""Which UTC days are priced, and which have changed evidence since (issue 15).

SQL: tenantcost/db/migrations/sql/0016_priced_days.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None
STEM = "0016_priced_days"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
