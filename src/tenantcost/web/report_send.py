"""``tenantcost report send``: the executive report as one self-contained HTML page, written to
a file or POSTed to a webhook (JSON: period, generated_at, summary, html).

The period sets the comparison: daily compares with the snapshot of 1 day before, weekly 7,
monthly 30 (snapshots are taken by the dashboard's jobs; without one the report says so).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import typer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from rich.console import Console

from tenantcost.db.connect import Connection, connect, redact
from tenantcost.errors import UserError
from tenantcost.web import data, render
from tenantcost.web.tables import (
    HEALTH_TABLE,
    OPTIMIZATION_TABLE,
    TableQuery,
    fetch,
)

TEMPLATES = Path(__file__).parent / "templates"


class Period(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


DAYS = {Period.daily: 1, Period.weekly: 7, Period.monthly: 30}


def report_data(conn: Connection, period: Period) -> dict[str, Any]:
    month = data.choose_period(conn, None)
    if month is None:
        raise UserError("no month has been attributed yet", "run `tenantcost attribute` first")
    overview = data.overview(conn, month, top=10)
    worst = fetch(
        conn,
        OPTIMIZATION_TABLE,
        TableQuery(month, "optimization_opportunity", "desc", None, None, 1, 10),
        people=True,
    )
    critical = fetch(
        conn,
        HEALTH_TABLE,
        TableQuery(month, "monthly_profit", "asc", None, "Critical Action Required", 1, 10),
        people=True,
    )
    return {
        "period": period.value,
        "days": DAYS[period],
        "generated_at": datetime.now(UTC),
        "overview": overview,
        "health": data.health_counts(conn, month),
        "opportunities": worst.rows,
        "critical": critical.rows,
        "critical_total": critical.total,
    }


def render_html(values: dict[str, Any]) -> str:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape())
    env.filters["money"] = render.fmt_money
    env.filters["pct"] = render.fmt_pct
    return env.get_template("report.html").render(**values)


def summary(values: dict[str, Any]) -> dict[str, Any]:
    totals = values["overview"]["totals"]
    result: dict[str, Any] = render.jsonable(
        {
            **totals,
            "trend": values["overview"]["trend"],
            "health": {h["business_health_status"]: h["tenants"] for h in values["health"]},
        }
    )
    return result


def post_webhook(url: str, payload: dict[str, Any], timeout: float = 10.0) -> int:
    try:
        response = httpx.post(url, json=payload, timeout=timeout)
    except httpx.HTTPError as exc:
        raise UserError(
            f"cannot deliver the report to {redact(url)}: {redact(str(exc))}",
            "check the --webhook URL",
        ) from None
    if response.status_code >= 400:
        raise UserError(
            f"the webhook {redact(url)} answered HTTP {response.status_code}",
            "check the URL and what the receiver expects",
        )
    return response.status_code


def send_command(
    period: Period = typer.Option(
        Period.daily, "--period", help="daily, weekly or monthly (sets the comparison window)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the HTML report to this file."),
    webhook: str | None = typer.Option(
        None, "--webhook", help="POST {period, generated_at, summary, html} as JSON to this URL."
    ),
) -> None:
    """Render the executive report (HTML) to a file or a webhook."""
    if (out is None) == (webhook is None):
        raise UserError("give exactly one of --out FILE.html or --webhook URL")
    with connect() as conn:
        values = report_data(conn, period)
    html = render_html(values)
    err = Console(stderr=True)
    if out is not None:
        try:
            out.write_text(html, encoding="utf-8")
        except OSError as exc:
            raise UserError(
                f"cannot write {out}: {exc.strerror}", "choose a writable path"
            ) from None
        err.print(f"wrote the {period.value} executive report to {out}")
        return
    assert webhook is not None
    payload = {
        "period": period.value,
        "generated_at": values["generated_at"].isoformat(),
        "summary": summary(values),
        "html": html,
    }
    status = post_webhook(webhook, json.loads(json.dumps(payload)))
    err.print(f"sent the {period.value} executive report to {redact(webhook)} (HTTP {status})")
