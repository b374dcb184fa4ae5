"""Pricing from sums per day, tenant, metric and source: a month's full re-price at 10,000 tenants.

SQL: tenantcost/db/migrations/sql/0024_priced_sums.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None
STEM = "0024_priced_sums"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
