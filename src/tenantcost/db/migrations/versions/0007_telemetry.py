"""Telemetry.

SQL: tenantcost/db/migrations/sql/0007_telemetry.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
STEM = "0007_telemetry"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
