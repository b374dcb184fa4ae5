"""Seed 000 step 2: smtp_ip_addresses.approximate_cost.

SQL: tenantcost/db/migrations/sql/0004_smtp_ip_approximate_cost.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
STEM = "0004_smtp_ip_approximate_cost"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
