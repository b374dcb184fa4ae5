"""A period's ledger as FOCUS 1.3 Cost and Usage rows (FinOps Open Cost and Usage Spec).

Every ledger line of the month is one row, so the rows of a tenant (``x_TenantId``) sum to its
figure in every other surface. Lines that come from splitting a shared charge carry the 1.3
allocation columns: the origin charge is the host's usage of a driver (split by measured
usage; idle, unattributed and background are its unallocated remainder rows, with
``AllocatedResourceId`` null), the shared VPS or IP pool (split by ``shared_cost_allocation``;
``shared_unallocated`` is the remainder) or platform overhead (split by
``overhead_allocation``). ``AllocatedMethodDetails`` gives each row's ratio of its origin
charge; the ratios of one origin sum to 1 and the rows' costs to the origin's cost. Own VPS,
own IPs, add-ons and unsplit lines have null allocation columns. Figures are tenantcost's
internal approximations, never an invoice; a provisional month says so in ``x_Provisional``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.money import csv_safe

FOCUS_VERSION = "1.3"
SCALE = Decimal("0.0000000001")  # 10 decimals: split rows still sum to their origin exactly
RATIO_SCALE = Decimal("0.000000000001")

FOCUS_COLUMNS = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "InvoiceIssuer",
    "ProviderName",
    "PublisherName",
    "HostProviderName",
    "ServiceProviderName",
    "PricingQuantity",
    "PricingUnit",
    "ServiceCategory",
    "ServiceName",
    "AllocatedMethodId",
    "AllocatedMethodDetails",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
    "x_TenantId",
    "x_CompanyName",
    "x_Line",
    "x_Driver",
    "x_Source",
    "x_Fidelity",
    "x_Provisional",
)
#: Columns FOCUS requires to be non-null on every row (the conformance test checks them).
REQUIRED = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeDescription",
    "ServiceCategory",
    "ServiceName",
    "ServiceProviderName",
    "HostProviderName",
)

SERVICE = {
    "compute": ("Compute", "Database compute (vCPU time)", "Usage"),
    "memory": ("Compute", "Database memory (RAM time)", "Usage"),
    "storage": ("Storage", "Database storage", "Usage"),
    "network": ("Networking", "Network egress", "Usage"),
    "usage": ("Compute", "Database usage (invoice remainder)", "Usage"),
    "vps": ("Compute", "Cloud VPS", "Purchase"),
    "shared_vps": ("Compute", "Cloud VPS (shared)", "Purchase"),
    "dedicated_ips": ("Networking", "Dedicated IP", "Purchase"),
    "shared_ips": ("Networking", "Dedicated IP (shared)", "Purchase"),
    "addons": ("Other", "Add-on delivery", "Purchase"),
    "platform_overhead": ("Other", "Platform overhead", "Usage"),
}
USAGE = ("compute", "memory", "storage", "network", "usage")
REMAINDER_LINES = ("idle", "unattributed", "background", "shared_unallocated")


def sql(name: str) -> str:
    return queries("tenantcost.web")[name]


@lru_cache(maxsize=256)
def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def origin(line: Mapping[str, Any], basis: str) -> str | None:
    """Which shared charge a line was split from (None: not a split)."""
    driver, kind = str(line["driver"]), str(line["line"])
    if driver in USAGE:
        return "usage" if basis == "invoice" else driver
    if driver in ("shared_vps", "shared_ips"):
        return driver
    if driver == "platform_overhead" and kind == "tenant":
        return "platform_overhead"
    return None


def method(origin_key: str, info: Mapping[str, Any]) -> str:
    if origin_key in ("shared_vps", "shared_ips"):
        return f"tenantcost:shared:{info['allocation_rule']}"
    if origin_key == "platform_overhead":
        return f"tenantcost:overhead:{info['overhead_rule']}"
    return f"tenantcost:usage:{info['basis']}"


def origin_sums(lines: Iterable[Mapping[str, Any]], basis: str) -> dict[str, Decimal]:
    """(pure) Each origin charge's cost: the sum of the lines split from it (``lines`` may be
    the ledger lines or their sums per line and driver)."""
    origins: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        key = origin(line, basis)
        if key is not None:
            origins[key] += Decimal(line["amount"])
    return origins


def _kind(
    line: Mapping[str, Any], info: Mapping[str, Any], provider: str, origins: Mapping[str, Decimal]
) -> dict[str, Any]:
    """(pure) What a line's FOCUS row takes from its kind and driver alone: the service, the
    host, and its origin charge (``origin_key``; ``origin_total`` None when not a split)."""
    driver = str(line["driver"])
    category, name, charge = SERVICE.get(driver, ("Other", driver, "Usage"))
    usage = driver in USAGE or (driver == "platform_overhead" and line["line"] != "control_plane")
    key = origin(line, str(info["basis"]))
    total = origins[key] if key is not None and origins[key] else None
    return {
        "category": category,
        "service": name,
        "charge": charge,
        "host": provider if usage else "Hostwinds",
        "origin_key": key,
        "origin_total": total,
        "method": method(key, info) if key is not None and total is not None else None,
        "remainder": line["line"] in REMAINDER_LINES,
    }


def period_info(conn: Connection, period: str) -> Mapping[str, Any]:
    """The period's row (UserError when it was never attributed): checked before streaming."""
    info = conn.execute(sql("focus_period"), {"period": period}).fetchone()
    if info is None:
        raise UserError(f"no figures for {period}", f"run `tenantcost attribute --month {period}`")
    return info


def export_arguments(
    sums: Sequence[Mapping[str, Any]],
    plans: Iterable[str],
    info: Mapping[str, Any],
    provider: str,
    period: str,
) -> dict[str, Any]:
    """(pure) The parameters of ``focus_export``. Per kind of line (its line, driver and unit,
    from ``focus_line_sums``), as arrays: what :func:`_kind` decides, each text as its CSV cell,
    and the parts of the row's JSON object that depend on the kind and the period only
    (``k_json_a`` … ``k_json_d``, written by ``json.dumps`` as the API's JSON is). Each plan
    name JSON-encoded as ``AllocatedTags`` has it."""
    origins = origin_sums(sums, str(info["basis"]))
    period_end = info["period_end"]
    provisional = info["status"] == "provisional"
    start, end = _iso(info["period_start"]), _iso(period_end)
    charge_end = _iso(info["covered_until"] if provisional else period_end)
    columns: dict[str, list[Any]] = defaultdict(list)
    for line in sums:
        kind = _kind(line, info, provider, origins)
        host = str(kind["host"])
        texts = {
            "unit": str(line["unit"]),
            "charge": kind["charge"],
            "category": kind["category"],
            "service": kind["service"],
            "host": host,
            "account_id": f"tenantcost:{host.lower()}",
            "account_name": f"{host} (tenantcost internal allocation)",
            "describe": f"{kind['service']} — ",
            "method": kind["method"],
        }
        for name, text in texts.items():
            columns[f"k_{name}_csv"].append(_csv_cell(text))
        fields = {
            "BillingAccountId": texts["account_id"],
            "BillingAccountName": texts["account_name"],
            "BillingCurrency": info["currency"],
            "BillingPeriodStart": start,
            "BillingPeriodEnd": end,
            "ChargePeriodStart": start,
            "ChargePeriodEnd": charge_end,
            "ChargeCategory": kind["charge"],
            "ChargeClass": None,
        }
        columns["k_json_a"].append(_json_fields(fields) + ',"ChargeDescription":')
        fields = dict.fromkeys(
            ("InvoiceIssuer", "ProviderName", "PublisherName", "HostProviderName"), host
        )
        fields["ServiceProviderName"] = host
        columns["k_json_b"].append(_json_fields(fields) + ',"PricingQuantity":"')
        fields = {
            "PricingUnit": texts["unit"],
            "ServiceCategory": kind["category"],
            "ServiceName": kind["service"],
            "AllocatedMethodId": kind["method"],
        }
        columns["k_json_c"].append('"' + _json_fields(fields) + ',"AllocatedMethodDetails":')
        fields = {"x_Line": line["line"], "x_Driver": line["driver"]}
        columns["k_json_d"].append(_json_fields(fields) + ',"x_Source":')
        columns["k_key"].append(f"{line['line']}/{line['driver']}/{line['unit']}")
        columns["k_describe"].append(texts["describe"])
        columns["k_unit_ascii"].append(json.dumps(line["unit"]))
        columns["k_origin_total"].append(kind["origin_total"])
        columns["k_remainder"].append(kind["remainder"])
    names = sorted(set(plans))
    return {
        "period": period,
        **{name: columns[name] for name in _KIND_ARRAYS},
        "plan_name": names,
        "plan_json": [json.dumps(name) for name in names],
        "currency_csv": _csv_cell(str(info["currency"])),
        "billing_start": start,
        "billing_end": end,
        "charge_end": charge_end,
        "provisional": "true" if provisional else "false",
        "json_end": _json_fields({"x_Provisional": provisional}) + "}",
    }


_KIND_ARRAYS = (
    *(
        f"k_{name}_csv"
        for name in (
            *("unit", "charge", "category", "service", "host"),
            *("account_id", "account_name", "describe", "method"),
        )
    ),
    *("k_json_a", "k_json_b", "k_json_c", "k_json_d"),
    *("k_key", "k_describe", "k_unit_ascii", "k_origin_total", "k_remainder"),
)


def _json_fields(fields: Mapping[str, Any]) -> str:
    """(pure) ``,"name":value`` for each field, as the API's compact JSON writes them."""
    return "".join(
        "," + json.dumps({name: value}, ensure_ascii=False, separators=(",", ":"))[1:-1]
        for name, value in fields.items()
    )


def _csv_cell(text: str | None) -> str | None:
    """A text cell as ``render_csv`` writes it: formula-safe; empty like None (blank)."""
    return csv_safe(text) if text else None


def export_chunks(
    conn: Connection,
    period: str,
    info: Mapping[str, Any],
    provider: str,
    fmt: str = "csv",
    *,
    chunk: int = 1 << 16,
) -> Iterator[bytes]:
    """The period's FOCUS export as bytes, about ``chunk`` at a time: PostgreSQL builds the
    rows (``focus_export``) and streams them with ``COPY … TO STDOUT``, so memory does not grow
    with the ledger and Python never touches a row. ``fmt`` ``csv``: the header and one line
    per row, as the Python row builder the tests keep as the reference
    (``tests/focus_reference.py``) wrote them; ``json``: the object the API returned
    before, ``{"focus_version", "period", "rows": […]}``, compact. One snapshot (repeatable
    read) for the kinds' sums and the rows. Use a connection of its own (autocommit): the copy
    holds a transaction until the last row."""
    rows = sql("focus_export")
    if fmt == "csv":
        picked = ", ".join(f'"{column}"' for column in FOCUS_COLUMNS)
        options = "FORMAT csv, HEADER"
    else:
        # One JSON text per row: it never holds a raw control character (to_json escapes
        # them), so with these two as delimiter and quote COPY never quotes it.
        picked, options = "json", "FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01'"
    statement = f"COPY (SELECT {picked} FROM ({rows}) AS focus) TO STDOUT WITH ({options})"
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # A month's lines are sorted in memory up to this much (else on disk); JIT compiling
        # the per-line expressions costs more than it saves at these row counts.
        conn.execute("SET LOCAL work_mem = '32MB'")
        conn.execute("SET LOCAL jit = off")
        sums = conn.execute(sql("focus_line_sums"), {"period": period}).fetchall()
        plans = [r["plan_name"] for r in conn.execute(sql("focus_plans"), {"period": period})]
        params = export_arguments(sums, plans, info, provider, period)
        if fmt != "csv":
            head = {"focus_version": FOCUS_VERSION, "period": period}
            yield json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1].encode()
            yield b',"rows":['
        buffer, started = bytearray(), False
        with conn.cursor() as cur, cur.copy(statement, params) as copy:
            for data in copy:
                buffer += data
                if len(buffer) >= chunk:
                    yield _flush(buffer, fmt, started)
                    buffer.clear()
                    started = True
        if buffer:
            yield _flush(buffer, fmt, started)
        if fmt != "csv":
            yield b"]}"


def _flush(buffer: bytearray, fmt: str, started: bool) -> bytes:
    """(pure) Whole rows as the response's bytes: CSV as COPY wrote them; JSON rows (one a
    line, no raw newline inside) comma-separated, a comma first when rows went before."""
    if fmt == "csv":
        return bytes(buffer)
    rows = bytes(buffer[:-1]).replace(b"\n", b",")
    return b"," + rows if started else rows


def default_period(conn: Connection) -> str | None:
    """The latest month that has ledger lines (what the export shows without ``period``)."""
    row = conn.execute(sql("focus_default_period")).fetchone()
    return row["period"] if row else None
