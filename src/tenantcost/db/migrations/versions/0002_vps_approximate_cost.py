"""Seed 000 step 1: vps_instances.approximate_cost.

SQL: tenantcost/db/migrations/sql/0002_vps_approximate_cost.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
STEM = "0002_vps_approximate_cost"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
