"""Tables as pages show them: the active table follows the request's parameters."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from markupsafe import Markup

from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.web.deps import context
from tenantcost.web.labels import column_label
from tenantcost.web.render import csv_lines
from tenantcost.web.tables import (
    TABLES,
    Memo,
    TablePage,
    TableQuery,
    TableSpec,
    fetch,
    no_memo,
    page_links,
    parse_query,
    query_string,
    sort_link,
    stream,
)

TABLE_PARAMS = ("period", "sort", "order", "plan", "health", "page", "per_page")


@dataclass(frozen=True)
class TableView:
    page: TablePage
    active: bool
    headers: list[dict[str, str]]  # column, label, href, arrow
    links: dict[str, str | None]
    csv_href: str
    params: dict[str, str]
    #: the table and its pager as the page shows it (the ``data_table`` macro)
    html: Markup = field(default_factory=Markup)

    @property
    def spec(self) -> TableSpec:
        return self.page.spec


def request_params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k in (*TABLE_PARAMS, "table")}


def table_params(request_args: Mapping[str, str], active: bool) -> dict[str, str]:
    """(pure) The parameters a table follows: all of its own when it is the page's active
    table, else only the filters every table of the page shares."""
    filters = {k: request_args[k] for k in ("period", "plan", "health") if request_args.get(k)}
    own = dict(request_args) if active else filters
    return {k: v for k, v in own.items() if k in TABLE_PARAMS}


def table_view(
    conn: Connection,
    path: str,
    spec: TableSpec,
    request_args: Mapping[str, str],
    active: bool,
    period: str | None,
    memo: Memo = no_memo,
) -> TableView:
    """One table of a page: its rows and its links (sort, page, CSV), keeping the filters."""
    own = table_params(request_args, active)
    query = parse_query(spec, own, period)
    result = fetch(conn, spec, query, people=True, memo=memo)
    base = {**own, "table": spec.name}
    headers = []
    for column in dict.fromkeys(spec.shown):  # each column once, even if a spec repeats it
        href, arrow = sort_link(spec, query, column, base)
        headers.append(
            {"column": column, "label": column_label(column), "href": href, "arrow": arrow}
        )
    links = {k: (f"{path}?{v}" if v else None) for k, v in page_links(result, base).items()}
    csv_params = {k: v for k, v in base.items() if k not in ("page", "per_page")}
    return TableView(
        page=result,
        active=active,
        headers=[{**h, "href": f"{path}?{h['href']}"} for h in headers],
        links=links,
        csv_href=f"{path}?{query_string({**csv_params, 'format': 'csv'})}",
        params=base,
    )


def page_tables(
    conn: Connection,
    request: Request,
    names: list[str],
    period: str | None,
    memo: Memo = no_memo,
) -> dict[str, TableView]:
    args = request_params(request)
    active = args.get("table") or names[0]
    if active not in names:
        raise UserError(f"this page has no table {active!r}", f"use one of: {', '.join(names)}")
    macro = context(request).templates.env.get_template("macros.html").module.data_table  # type: ignore[attr-defined]
    path = request.url.path

    def rendered(name: str) -> TableView:
        view = table_view(conn, path, TABLES[name], args, name == active, period, memo)
        return replace(view, html=Markup(macro(view)))

    # each table kept rendered on its own: a page's other tables are the same whichever
    # way this one is sorted or paged (the health page's hundred pages share one)
    own = {n: tuple(sorted(table_params(args, n == active).items())) for n in names}
    return {
        name: memo(("table", path, name, period, own[name]), partial(rendered, name))
        for name in names
    }


def csv_response(
    conn: Connection, request: Request, names: list[str], period: str | None
) -> Response:
    """The active table, every row (filtered and sorted, not paged), as a CSV download."""
    args = request_params(request)
    name = args.get("table") or names[0]
    if name not in names:
        raise UserError(f"this page has no table {name!r}", f"use one of: {', '.join(names)}")
    spec = TABLES[name]
    return streamed_csv(request, spec, parse_query(spec, args, period), name)


def streamed_csv(request: Request, spec: TableSpec, query: TableQuery, name: str) -> Response:
    """Every row of a table as CSV, streamed from a server-side cursor on a pooled connection
    of its own (held until the last row is sent or the client goes away)."""
    pool = context(request).pool

    def rows() -> Iterator[dict[str, Any]]:
        with pool.connection() as own:
            yield from stream(own, spec, query)

    return StreamingResponse(
        csv_lines(rows(), spec.columns),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def wants_csv(request: Request) -> bool:
    fmt = request.query_params.get("format", "html")
    if fmt not in ("html", "csv", "json"):
        raise UserError(f"format must be html, csv or json, not {fmt!r}")
    return fmt == "csv"


def table_json(page: TablePage) -> dict[str, Any]:
    return {
        "table": page.spec.name,
        "period": page.query.period,
        "title": page.spec.title,
        "columns": list(page.spec.columns),
        "sort": page.query.sort,
        "order": page.query.order,
        "plan": page.query.plan,
        "health": page.query.health,
        "page": page.query.page,
        "per_page": page.query.per_page,
        "pages": page.pages,
        "total": page.total,
        "rows": page.rows,
    }
