"""API tokens expire and record their last use (issue 13).

SQL: tenantcost/db/migrations/sql/0013_token_expiry.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None
STEM = "0013_token_expiry"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
