"""Seed 000 steps 3-5: BI views, materialized rollups, shared-cost allocation, tenant isolation.

SQL: tenantcost/db/migrations/sql/0006_bi_views.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
STEM = "0006_bi_views"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
