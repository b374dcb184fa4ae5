"""Tiers, plan links, enforcement state and decisions, alerts, add-ons and signup signals.

SQL: tenantcost/db/migrations/sql/0009_tiers.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
STEM = "0009_tiers"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
