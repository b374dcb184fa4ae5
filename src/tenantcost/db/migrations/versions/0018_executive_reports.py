"""Scheduled executive reports: report runs per (kind, period) and their deliveries.

SQL: tenantcost/db/migrations/sql/0018_executive_reports.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None
STEM = "0018_executive_reports"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
