"""The FOCUS export built and streamed by PostgreSQL equals, byte for byte, what the Python
row builder (``tests/focus_reference.py`` through ``csv_lines`` / the JSON response) wrote before.

The hand-made fleet (tests/e2e/webfleet.py) with the shared VPS split evenly (20.00 / 3: two
rows of 6.67 and one of 6.66), made awkward on purpose: a company name that starts like a
formula and holds a comma and quotes, one with non-ASCII letters, a plan name with an accent
(``json.dumps`` writes it ``\\u00e1`` inside ``AllocatedTags``, the JSON response as it is),
a source starting with ``-``, and two compute lines whose amounts and quantity sit exactly
half way between two roundings (Decimal's half even, not PostgreSQL's half away from zero).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from starlette.responses import JSONResponse

from tenantcost.attribution.ledger import attribute_period
from tenantcost.costs import store
from tenantcost.db import NO_TENANT
from tenantcost.db.connect import connect
from tenantcost.telemetry.timeutil import month_period
from tenantcost.web import focus
from tenantcost.web.render import csv_lines, jsonable
from tests import focus_reference
from tests.e2e.webfleet import (
    ACME,
    AS_OF,
    BOLT,
    CIRRUS,
    MONTH,
    Fleet,
    load_small_fleet,
    token_client,
)

pytestmark = pytest.mark.db

ACME_NAME = '=Acme, "Inc"'


@pytest.fixture
def served(migrated_url: str) -> Iterator[tuple[Fleet, httpx.Client]]:
    fleet = load_small_fleet(migrated_url)
    with psycopg.connect(fleet.url, autocommit=True) as conn:
        conn.execute("UPDATE companies SET name = %s WHERE id = %s", (ACME_NAME, ACME))
        conn.execute("UPDATE companies SET name = 'Bölt ✓' WHERE id = %s", (BOLT,))
        conn.execute("UPDATE plans SET name = 'Básico' WHERE name = 'Basic'")
    with connect(fleet.url) as conn:
        store.set_setting(conn, "shared_cost_allocation", "even", "test")
        attribute_period(conn, month_period(MONTH), as_of=AS_OF)
    with psycopg.connect(fleet.url, autocommit=True) as conn:
        # Compute lines (no usage was measured): 1.00000000005 + 0.0000000001 = 1.00000000015.
        conn.execute(
            "INSERT INTO tenant_cost_ledger (period, line, tenant_id, driver, source, fidelity,"
            " quantity, unit, amount) VALUES"
            " (%(m)s, 'unattributed', %(none)s, 'compute', '-sampler', 'measured',"
            "  2.0000000000005, 'vCPU-second', 1.000000000050),"
            " (%(m)s, 'tenant', %(acme)s, 'compute', 'test', 'measured',"
            "  0.5, 'vCPU-second', 0.000000000100)",
            {"m": MONTH, "acme": ACME, "none": NO_TENANT},  # no tenant (revision 0027)
        )
    with token_client(fleet) as c:
        yield fleet, c


def python_export(url: str) -> tuple[bytes, bytes]:
    """The export as the Python row builder writes it: CSV, and the JSON response's body."""
    with connect(url) as conn:
        info = conn.execute(focus.sql("focus_period"), {"period": MONTH}).fetchone()
        lines = conn.execute(focus.sql("focus_lines"), {"period": MONTH}).fetchall()
    rows = focus_reference.focus_rows(lines, info, "Railway")
    text = "".join(csv_lines(rows, focus.FOCUS_COLUMNS)).encode()
    body = {"focus_version": focus.FOCUS_VERSION, "period": MONTH, "rows": rows}
    return text, bytes(JSONResponse(jsonable(body)).body)


def test_the_streamed_export_equals_the_python_rows(served: tuple[Fleet, httpx.Client]) -> None:
    fleet, c = served
    want_csv, want_json = python_export(fleet.url)
    got_csv = c.get("/api/v1/export/focus", params={"period": MONTH})
    got_json = c.get("/api/v1/export/focus", params={"period": MONTH, "format": "json"})
    assert got_csv.headers["content-type"].startswith("text/csv")
    assert got_json.headers["content-type"] == "application/json"
    assert got_csv.content == want_csv
    assert got_json.content == want_json

    rows = list(csv.DictReader(io.StringIO(got_csv.text)))
    assert list(rows[0]) == list(focus.FOCUS_COLUMNS)
    objects = json.loads(got_json.content)["rows"]
    assert len(objects) == len(rows)
    compute = [r for r in rows if r["x_Driver"] == "compute"]
    # Ordered by line: 'tenant' before 'unattributed'.
    acme, unattributed = compute
    # 1.000000000050 to 10 decimals: a tie, the 10th decimal (0) is even, so it stays down
    # (PostgreSQL's round() would give 1.0000000001); JSON's 6 decimals: 1.000000.
    assert unattributed["BilledCost"] == unattributed["ListCost"] == "1.0000000000"
    assert acme["BilledCost"] == "0.0000000001"
    # 2.0000000000005 to 12 decimals: a tie on an even digit, down again.
    assert unattributed["PricingQuantity"] == "2.000000000000"
    assert acme["PricingQuantity"] == "0.500000000000"
    assert unattributed["x_Source"] == "'-sampler"  # formula-safe
    # Ratios of the compute origin (1.00000000015): 1.00000000005 / 1.00000000015
    # = 1 - 1e-10 / 1.00000000015 = 0.99999999990000000001…, and 1e-10 / 1.00000000015
    # = 0.000000000099999999985…, each to 12 decimals.
    ratios = [json.loads(r["AllocatedMethodDetails"])["Elements"][0] for r in compute]
    assert [r["AllocatedRatio"] for r in ratios] == ["0.000000000100", "0.999999999900"]
    assert ratios[1]["UsageQuantity"] == "2.0000000000005"
    assert unattributed["AllocatedResourceName"] == "unattributed"
    assert unattributed["AllocatedResourceId"] == ""
    assert acme["x_CompanyName"] == acme["AllocatedResourceName"] == "'" + ACME_NAME
    assert acme["AllocatedTags"] == f'{{"tenant_id": "{ACME}", "plan": "B\\u00e1sico"}}'
    by_line = {(o["x_Driver"], o["x_Line"], o["x_TenantId"]): o for o in objects}
    assert by_line[("compute", "unattributed", None)]["BilledCost"] == "1.000000"
    assert by_line[("compute", "tenant", str(ACME))]["x_CompanyName"] == ACME_NAME
    bolt_share = by_line[("shared_vps", "tenant", str(BOLT))]
    assert bolt_share["x_CompanyName"] == "Bölt ✓"
    assert '"Bölt ✓"' in got_json.content.decode()  # UTF-8 as it is, not \u escapes
    # The shared 20.00 split evenly: 6.67 + 6.67 + 6.66, each a third of the origin.
    shared = [r for r in rows if r["x_Driver"] == "shared_vps"]
    assert sorted(r["BilledCost"] for r in shared) == [
        "6.6600000000",
        "6.6700000000",
        "6.6700000000",
    ]
    assert {r["AllocatedMethodId"] for r in shared} == {"tenantcost:shared:even"}
    # 6.67 / 20 = 0.3335 and 6.66 / 20 = 0.333
    assert sorted(
        json.loads(r["AllocatedMethodDetails"])["Elements"][0]["AllocatedRatio"] for r in shared
    ) == ["0.333000000000", "0.333500000000", "0.333500000000"]


def test_small_chunks_split_only_between_rows(served: tuple[Fleet, httpx.Client]) -> None:
    """With a chunk of 1 byte every row is its own chunk: JSON's commas still come out right."""
    fleet, _ = served
    want_csv, want_json = python_export(fleet.url)
    with connect(fleet.url, autocommit=True) as conn:
        info = focus.period_info(conn, MONTH)
        chunks = list(focus.export_chunks(conn, MONTH, info, "Railway", "json", chunk=1))
        assert len(chunks) > 4
        assert b"".join(chunks) == want_json
        csv_chunks = list(focus.export_chunks(conn, MONTH, info, "Railway", "csv", chunk=1))
        assert b"".join(csv_chunks) == want_csv


def test_a_carriage_return_in_a_name_is_quoted(served: tuple[Fleet, httpx.Client]) -> None:
    """PostgreSQL's CSV quotes a cell holding a carriage return (Python's csv writer did
    not), so a reader gets the name back in one cell and one row."""
    fleet, c = served
    with psycopg.connect(fleet.url, autocommit=True) as conn:
        conn.execute("UPDATE companies SET name = 'Cir\rrus' WHERE id = %s", (CIRRUS,))
    text = c.get("/api/v1/export/focus", params={"period": MONTH}).text
    assert '"Cir\rrus"' in text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    cirrus = [r for r in rows if r["x_TenantId"] == str(CIRRUS)]
    assert cirrus and {r["x_CompanyName"] for r in cirrus} == {"Cir\rrus"}
