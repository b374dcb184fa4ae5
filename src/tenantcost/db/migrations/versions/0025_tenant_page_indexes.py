"""The tenant page's 12 months of emails and payments read from the index alone.

SQL: tenantcost/db/migrations/sql/0025_tenant_page_indexes.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None
STEM = "0025_tenant_page_indexes"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
