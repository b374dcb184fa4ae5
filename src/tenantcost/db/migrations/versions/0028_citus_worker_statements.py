"""Citus workers read directly: their statement sources per tenant in the metric catalogue.

SQL: tenantcost/db/migrations/sql/0028_citus_worker_statements.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None
STEM = "0028_citus_worker_statements"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
