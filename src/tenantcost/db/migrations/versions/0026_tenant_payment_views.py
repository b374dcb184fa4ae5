"""Each tenant's payments and emails as one view each, joined on the tenant where Citus
co-locates them with subscriptions (figures and the tenant page read them).

SQL: tenantcost/db/migrations/sql/0026_tenant_payment_views.{up,down,drop_data}.sql
"""

from __future__ import annotations

from tenantcost.db.migrations import downgrade_from, upgrade_from

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None
STEM = "0026_tenant_payment_views"


def upgrade() -> None:
    upgrade_from(STEM)


def downgrade() -> None:
    downgrade_from(STEM)
