"""Citus telemetry: the workers' per-tenant CPU, queries and shard storage in the catalogue.

SQL: tenantcost/db/migrations/sql/0021_citus_telemetry.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None
STEM = "0021_citus_telemetry"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
