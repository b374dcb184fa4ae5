"""Backend CPU sampler metrics: compute_seconds and background_cpu_seconds from backend_sampler.

SQL: tenantcost/db/migrations/sql/0012_backend_sampler.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None
STEM = "0012_backend_sampler"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
