"""Baseline: adopt or create the seed's business tables, add tenant_id.

SQL: tenantcost/db/migrations/sql/0001_baseline.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
STEM = "0001_baseline"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
