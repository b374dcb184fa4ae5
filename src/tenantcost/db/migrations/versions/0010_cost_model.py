"""One cost model: priced usage per hour and day, a monthly ledger of every cost line, and
per-tenant period figures that every surface reads (issue 11).

SQL: tenantcost/db/migrations/sql/0010_cost_model.{up,down,drop_data}.sql. Downgrading
re-runs revisions 0006, 0007 and 0009 (all idempotent) to bring back what this one replaced.
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
STEM = "0010_cost_model"
RESTORED = ("0006_bi_views", "0007_telemetry", "0009_tiers")


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
    for stem in RESTORED:
        upgrade_from(stem)
