"""Seed 000 step 5: roles, grants and row-level tenant isolation.

SQL: tenantcost/db/migrations/sql/0005_security.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
STEM = "0005_security"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
