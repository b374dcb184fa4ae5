"""Sortable, filterable, paged tables over the BI rollups, and their CSV.

A ``TableSpec`` names a base query (``SELECT … FROM …``) and the columns it returns. The
request's ``sort``, ``order``, ``plan``, ``health``, ``page`` and ``per_page`` are checked
against the spec (unknown columns are refused, never interpolated) and applied in SQL, so a
page of a 10,000-tenant table costs one indexed query.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from uuid import UUID

from psycopg import sql as pgsql

from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.report.reports import REPORTS, Report
from tenantcost.report.rollup import sql as report_query
from tenantcost.telemetry.timeutil import month_period


def report_sql(name: str) -> pgsql.Composable:
    """The CLI report's query (over the figures), so the seed's definitions live once, without
    its own ORDER BY: the table orders (and pages) it once, directly on the figures."""
    return pgsql.SQL(unordered(report_query(REPORTS[name].query)))


def unordered(query: str) -> str:
    """(pure) A query without its trailing ``ORDER BY …`` (and ``;``)."""
    text = query.strip().rstrip(";").rstrip()
    head, sep, tail = text.rpartition("\n ORDER BY ")
    if sep and "\n" not in tail and "(" not in tail:
        return head
    return text


#: ``memo(key, compute)``: the value for ``key``, cached or computed (the dashboard's
#: ``tenantcost.web.cache``; the default computes every time).
Memo = Callable[[Hashable, Callable[[], Any]], Any]


def no_memo(key: Hashable, compute: Callable[[], Any]) -> Any:
    return compute()


MAX_PER_PAGE = 500
MAX_OFFSET = 2**63 - 1  # rows skipped before a page: what PostgreSQL's OFFSET (bigint) takes
DEFAULT_PER_PAGE = 50

Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str
    base: pgsql.Composable  # a query whose result has every column in ``columns``
    columns: tuple[str, ...]
    default_sort: str
    default_order: Order = "desc"
    #: the CLI report it wraps: decimals per column for people and for machines
    report: Report | None = None
    link_column: str | None = "company_name"  # links to the tenant page (by tenant_id)
    hidden: tuple[str, ...] = ("tenant_id",)  # in JSON/CSV, not shown as an HTML column
    filters: tuple[str, ...] = ("plan", "health")
    description: str = ""

    @property
    def shown(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.hidden)


@dataclass(frozen=True)
class TableQuery:
    period: str
    sort: str
    order: Order
    plan: str | None
    health: str | None
    page: int
    per_page: int


@dataclass(frozen=True)
class TablePage:
    spec: TableSpec
    query: TableQuery
    rows: list[dict[str, Any]]
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def parse_query(
    spec: TableSpec, params: Mapping[str, str | None], period: str | None = None
) -> TableQuery:
    """The request's table parameters, validated against the spec (UserError when not)."""
    month = params.get("period") or period
    if not month:
        raise UserError("no month has been attributed yet", "run `tenantcost attribute` first")
    month = month_period(month).key
    sort = params.get("sort") or spec.default_sort
    if sort not in spec.columns:
        raise UserError(f"cannot sort {spec.name} by {sort!r}", f"use one of: {spec.columns}")
    order = (params.get("order") or spec.default_order).lower()
    if order not in ("asc", "desc"):
        raise UserError(f"order must be asc or desc, not {order!r}")
    page = _positive_int(params.get("page"), 1, "page")
    per_page = _positive_int(params.get("per_page"), DEFAULT_PER_PAGE, "per_page")
    if per_page > MAX_PER_PAGE:
        raise UserError(f"per_page {per_page} is above {MAX_PER_PAGE}", "use format=csv for all")
    if (page - 1) * per_page > MAX_OFFSET:
        raise UserError(f"page {page} is beyond any table", "use a smaller page number")
    return TableQuery(
        period=month,
        sort=sort,
        order="asc" if order == "asc" else "desc",
        plan=(params.get("plan") or None) if "plan" in spec.filters else None,
        health=(params.get("health") or None) if "health" in spec.filters else None,
        page=page,
        per_page=per_page,
    )


def _positive_int(text: str | None, default: int, what: str) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"{what} must be a whole number, not {text!r}") from None
    if value < 1:
        raise UserError(f"{what} must be 1 or more, not {value}")
    return value


def _where(spec: TableSpec) -> pgsql.Composable:
    where = []
    if "plan" in spec.filters:
        where.append(pgsql.SQL("(%(plan)s::text IS NULL OR t.plan_name = %(plan)s)"))
    if "health" in spec.filters:
        where.append(
            pgsql.SQL("(%(health)s::text IS NULL OR t.business_health_status = %(health)s)")
        )
    return pgsql.SQL(" AND ").join(where) if where else pgsql.SQL("true")


def statement(spec: TableSpec, query: TableQuery, *, paged: bool) -> pgsql.Composed:
    """The rows in order, with ``LIMIT``/``OFFSET`` when paged: one sort (top-N when paged)
    directly over the figures; the total comes from ``count_statement`` (cached)."""
    # ties by company then tenant (unique in a month: what migration 0019's indexes hold),
    # or by plan for the per-plan table
    unique = ("company_name", "tenant_id") if "tenant_id" in spec.columns else ("plan_name",)
    tiebreak = [c for c in unique if c in spec.columns]
    order = pgsql.SQL(", ").join(
        [
            pgsql.SQL("t.{} {} NULLS LAST").format(
                pgsql.Identifier(query.sort), pgsql.SQL(query.order.upper())
            ),
            *(pgsql.SQL("t.{}").format(pgsql.Identifier(c)) for c in tiebreak),
        ]
    )
    return pgsql.SQL("SELECT t.* FROM ({base}) t WHERE {where} ORDER BY {order}{limit}").format(
        base=spec.base,
        where=_where(spec),
        order=order,
        limit=pgsql.SQL(" LIMIT %(limit)s OFFSET %(offset)s") if paged else pgsql.SQL(""),
    )


def count_statement(spec: TableSpec) -> pgsql.Composed:
    return pgsql.SQL("SELECT count(*) AS n FROM ({base}) t WHERE {where}").format(
        base=spec.base, where=_where(spec)
    )


def _params(query: TableQuery) -> dict[str, Any]:
    return {
        "period": query.period,
        "plan": query.plan,
        "health": query.health,
        "limit": query.per_page,
        "offset": (query.page - 1) * query.per_page,
    }


def count(conn: Connection, spec: TableSpec, query: TableQuery, memo: Memo = no_memo) -> int:
    """How many rows the table has with the query's filters (cached per filter: sorting and
    paging do not change it)."""

    def compute() -> int:
        row: Any = conn.execute(count_statement(spec), _params(query)).fetchone()
        return int(row["n"])

    return int(memo(("count", spec.name, query.period, query.plan, query.health), compute))


def tenant_order(conn: Connection, spec: TableSpec, query: TableQuery, memo: Memo) -> bytes:
    """Every tenant of a per-tenant table in the query's order (its filters and sort, not
    its page), 16 bytes a tenant: one sort, kept, for every page of that order (``memo``).
    Bytes, not a list of UUIDs: 10,000 objects fewer for the garbage collector to walk
    on every full pass, each pass a pause for every request in flight."""
    ordered = statement(spec, replace(query, page=1), paged=False)
    key = ("order", spec.name, query.period, query.plan, query.health, query.sort, query.order)

    def compute() -> bytes:
        text = pgsql.SQL("SELECT o.tenant_id FROM ({}) o").format(ordered)
        return b"".join(r["tenant_id"].bytes for r in conn.execute(text, _params(query)))

    return memo(key, compute)  # type: ignore[no-any-return]


def tenants_at(order: bytes, offset: int, count: int) -> list[UUID]:
    """(pure) The tenants at positions offset … offset + count - 1 of a ``tenant_order``."""
    chunk = order[16 * offset : 16 * (offset + count)]
    return [UUID(bytes=chunk[i : i + 16]) for i in range(0, len(chunk), 16)]


def rows_by_tenant_statement(spec: TableSpec) -> pgsql.Composed:
    return pgsql.SQL("SELECT t.* FROM ({base}) t WHERE t.tenant_id = ANY(%(tenants)s)").format(
        base=spec.base
    )


def fetch(
    conn: Connection,
    spec: TableSpec,
    query: TableQuery,
    *,
    paged: bool = True,
    people: bool = False,
    memo: Memo = no_memo,
) -> TablePage:
    """One page (or every row) of a table; decimals for people (cents) or machines.

    With a cache (``memo``), a page of a per-tenant table is its slice of the kept order
    (``tenant_order``), read by tenant: a hundred pages cost one sort, not a hundred."""
    if paged and memo is not no_memo and "tenant_id" in spec.columns:
        order = tenant_order(conn, spec, query, memo)
        chosen = tenants_at(order, (query.page - 1) * query.per_page, query.per_page)
        params = {**_params(query), "tenants": chosen}
        rows = conn.execute(rows_by_tenant_statement(spec), params).fetchall()
        place = {tenant: i for i, tenant in enumerate(chosen)}
        rows.sort(key=lambda r: place[r["tenant_id"]])
        total = len(order) // 16
    else:
        rows = conn.execute(statement(spec, query, paged=paged), _params(query)).fetchall()
        total = count(conn, spec, query, memo) if paged else len(rows)
    return TablePage(spec, query, [present_row(spec, r, people) for r in rows], total)


def stream(
    conn: Connection, spec: TableSpec, query: TableQuery, *, batch: int = 2000
) -> Iterator[dict[str, Any]]:
    """Every filtered, sorted row for machines, read through a server-side cursor ``batch``
    rows at a time (memory does not grow with the table). Run it on a connection of its own:
    the cursor lives in a transaction until the last row is read."""
    with conn.transaction(), conn.cursor(name="tenantcost_table_stream") as cur:
        cur.itersize = batch
        cur.execute(statement(spec, query, paged=False), _params(query))
        for row in cur:
            yield present_row(spec, row, False)


def quantize(value: Any, places: int) -> Any:
    if isinstance(value, Decimal):
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return value


def present_row(spec: TableSpec, row: Mapping[str, Any], people: bool) -> dict[str, Any]:
    """The spec's columns, in order, each Decimal at its column's fixed scale (half up)."""
    places = spec.report.places(people=people) if spec.report else {}
    return {c: quantize(row[c], places[c]) if c in places else row[c] for c in spec.columns}


def page_links(page: TablePage, params: Mapping[str, str]) -> dict[str, str | None]:
    """Query strings for first/previous/next/last pages, keeping the other parameters."""

    def at(n: int) -> str:
        return query_string({**params, "page": str(n)})

    current, last = page.query.page, page.pages
    return {
        "first": at(1) if current > 1 else None,
        "prev": at(current - 1) if current > 1 else None,
        "next": at(current + 1) if current < last else None,
        "last": at(last) if current < last else None,
    }


def query_string(params: Mapping[str, str | None]) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def sort_link(
    spec: TableSpec, query: TableQuery, column: str, params: Mapping[str, str]
) -> tuple[str, str]:
    """The query string that sorts by ``column`` (toggling order if already sorted), and an arrow."""
    if query.sort == column:
        order = "asc" if query.order == "desc" else "desc"
        arrow = " ▼" if query.order == "desc" else " ▲"
    else:
        order, arrow = spec.default_order, ""
    return query_string({**params, "sort": column, "order": order, "page": None}), arrow


def report_table(
    report: str,
    *,
    name: str,
    description: str,
    insert: Sequence[tuple[str, str]] = (),
    **kwargs: Any,
) -> TableSpec:
    """A dashboard table over a CLI report: same query, title, columns and decimals, plus
    the columns the dashboard filters on (``insert``: (column, after which column))."""
    spec = REPORTS[report]
    columns = list(spec.columns)
    for column, after in insert:
        columns.insert(columns.index(after) + 1, column)
    return TableSpec(
        name=name,
        title=spec.title,
        description=description,
        base=report_sql(report),
        columns=tuple(columns),
        report=spec,
        **kwargs,
    )


HEALTH_TABLE = report_table(
    "health",
    name="health",
    description="Every tenant's health, efficiency score, margin and profit (seed 000 view 1).",
    default_sort="cost_efficiency_score",
)

OPTIMIZATION_TABLE = report_table(
    "optimization",
    name="optimization",
    description="Tenants not Excellent; category by efficiency score (< 50 High, < 75 "
    "Moderate, else Well Optimized); opportunity = revenue × 2 − cost.",
    insert=[("plan_name", "company_name")],
    default_sort="optimization_opportunity",
)

COST_BY_PLAN_TABLE = report_table(
    "cost-by-plan",
    name="cost_by_plan",
    description="Tenants and average cost, profit (revenue − cost) and efficiency "
    "(payments ÷ cost) per plan (seed 000 view 2).",
    default_sort="avg_efficiency_ratio",
    link_column=None,
    hidden=(),
    filters=("plan",),
)

COST_PER_EMAIL_TABLE = report_table(
    "cost-per-email",
    name="cost_per_email",
    description="Cost ÷ emails sent in the month, tenants that sent email; categories "
    "< $0.01 Highly Efficient, < $0.02 Efficient, < $0.05 Moderate, else Needs Optimization.",
    insert=[("business_health_status", "plan_name"), ("emails_sent", "business_health_status")],
    default_sort="cost_per_email_delivered",
    default_order="asc",
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (HEALTH_TABLE, OPTIMIZATION_TABLE, COST_BY_PLAN_TABLE, COST_PER_EMAIL_TABLE)
}


def column_label(column: str) -> str:
    return column.replace("_", " ")


def csv_columns(spec: TableSpec) -> Sequence[str]:
    return spec.columns
