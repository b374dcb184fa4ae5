"""Every ``db verify`` check in one list: the schema's (``db.verify``), Citus placement
(``db.citus``) and the cost model's reconciliation (``report.reconcile``).

Composed here, above both packages, so ``db`` never imports ``report``.
"""

from __future__ import annotations

from tenantcost.db import verify
from tenantcost.db.checks import CheckResult
from tenantcost.db.citus import check_install, check_placement
from tenantcost.report.reconcile import check_bi_views


def run_all(url: str) -> list[CheckResult]:
    checks = [*verify.SCHEMA_CHECKS, check_bi_views, check_placement, check_install]
    return verify.run_checks(url, checks)
