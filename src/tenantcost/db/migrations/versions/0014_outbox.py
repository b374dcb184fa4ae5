"""A persisted outbox: events delivered after their transaction, with retries.

SQL: tenantcost/db/migrations/sql/0014_outbox.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None
STEM = "0014_outbox"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
