"""The pipeline on PostgreSQL 15, the oldest server tenantcost supports: migrations, the demo
history into daily partitions, a collector pass with evidence retention, a month attributed.
(Revision 0020 once called date_add(timestamptz, interval, zone), which exists only from 16:
every migration passed, and the first collector pass failed.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tenantcost.attribution.ledger import attribute_period
from tenantcost.db import migrate
from tenantcost.db.connect import connect
from tenantcost.demo.fleet import load_demo
from tenantcost.demo.history import load_history
from tenantcost.pricing.book import find_price_book
from tenantcost.pricing.store import import_book
from tenantcost.telemetry.collector import Collector
from tenantcost.telemetry.timeutil import month_period
from tests import pg15
from tests.conftest import create_database

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def pg15_url() -> Iterator[str]:
    if not pg15.available():
        pytest.skip(pg15.MISSING_REASON)
    with pg15.cluster() as admin:
        yield create_database(admin)


def test_history_retention_and_attribution_run_on_postgresql_15(pg15_url: str) -> None:
    migrate.upgrade(pg15_url)
    with connect(pg15_url, autocommit=True) as conn:
        row: Any = conn.execute("SHOW server_version_num").fetchone()
        assert int(row["server_version_num"]) // 10000 == 15
        import_book(conn, find_price_book("railway-2025-11"))
        load_demo(conn, tenants=12, seed=5)
        result = load_history(conn, days=25, seed=5)
        assert result.evidence_rows > 0
        report = Collector(conn, measure_host=False).collect()
        assert not [w for w in report.warnings if w.startswith("retention stopped")]
        # 25 days of history, 21 kept hourly (besides today): the oldest days rolled up
        rolled: Any = conn.execute("SELECT count(*) AS n FROM tenant_usage_rolled_days").fetchone()
        assert rolled["n"] >= 3
        daily: Any = conn.execute("SELECT count(*) AS n FROM tenant_usage_daily").fetchone()
        assert daily["n"] > 0
        month = month_period(f"{datetime.now(UTC):%Y-%m}")
        attribute_period(conn, month, as_of=datetime.now(UTC), reprice=False)
        lines: Any = conn.execute(
            "SELECT count(*) AS n FROM tenant_cost_ledger WHERE period = %s", (month.key,)
        ).fetchone()
        assert lines["n"] > 0
