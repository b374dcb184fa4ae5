"""What an executive report shows, read from the one cost model, and its HTML and PDF.

Every figure is read, never recomputed: the month's headline, per-plan table, cost drivers,
costliest tenants and attribution quality come from ``tenantcost.web.data.overview`` (over
``tenant_period_figures`` and ``tenant_cost_ledger``); the window's usage cost from
``tenant_cost_daily``; signals and alerts from ``tier_decisions`` / ``tier_alerts``. The month
shown is the one the report's window ends in (or the latest attributed one before it), with
its status: provisional figures are marked as such.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError
from tenantcost.execreport.schedule import Kind, Period
from tenantcost.report.rollup import resolve_month
from tenantcost.web import data, render
from tenantcost.web.tables import HEALTH_TABLE, OPTIMIZATION_TABLE, TableQuery, fetch

TEMPLATES = Path(__file__).parent / "templates"
CHART_CID = "cost-drivers-chart"


def points_text(change: Any) -> str:
    """A margin change in percentage points for people: +1.2, −0.4 (half up, one decimal)."""
    value = Decimal(change).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{value:+}".replace("-", "−")


def sql(name: str) -> str:
    return queries("tenantcost.execreport")[name]


def report_month(conn: Connection, period: Period) -> str:
    """The cost model's month a report shows: the one its window ends in, when attributed;
    else the latest attributed month (UserError when there is none)."""
    last_day = period.end - timedelta(microseconds=1)
    wanted = f"{last_day:%Y-%m}"
    if conn.execute(sql("month_known"), {"period": wanted}).fetchone() is not None:
        return wanted
    return resolve_month(conn, None)


def window_usage(conn: Connection, start: datetime, end: datetime) -> dict[str, Decimal]:
    rows = conn.execute(sql("window_usage"), {"start": start, "end": end}).fetchall()
    return {str(r["driver"]): Decimal(r["amount"]) for r in rows}


def report_values(
    conn: Connection,
    period: Period,
    *,
    generated_at: datetime | None = None,
    late: bool = False,
    top: int = 10,
) -> dict[str, Any]:
    """Everything the report template shows (Decimals exact; formatted by the template)."""
    month = report_month(conn, period)
    overview = data.overview(conn, month, top=top)
    worst = fetch(
        conn,
        OPTIMIZATION_TABLE,
        TableQuery(month, "optimization_opportunity", "desc", None, None, 1, top),
        people=True,
    )
    critical = fetch(
        conn,
        HEALTH_TABLE,
        TableQuery(month, "monthly_profit", "asc", None, "Critical Action Required", 1, top),
        people=True,
    )
    length = period.end - period.start
    usage_now = window_usage(conn, period.start, period.end)
    usage_before = window_usage(conn, period.start - length, period.start)
    window = {"start": period.start, "end": period.end}
    return {
        "kind": period.kind.value,
        "period": period.kind.value,  # the old `report send` template's name for it
        "label": period.label,
        "window": window,
        "late": late,
        "month": month,
        "generated_at": generated_at or datetime.now(UTC),
        "overview": overview,
        "provisional": bool(overview["freshness"].get("provisional")),
        "health": data.health_counts(conn, month),
        "opportunities": worst.rows,
        "critical": critical.rows,
        "critical_total": critical.total,
        "usage": {
            "now": sum(usage_now.values(), Decimal(0)),
            "before": sum(usage_before.values(), Decimal(0)),
            "by_driver": usage_now,
        },
        "signals": conn.execute(sql("window_signals"), {**window, "limit": 50}).fetchall(),
        "alerts": conn.execute(sql("window_alerts"), {**window, "limit": 50}).fetchall(),
    }


def drivers_chart_png(drivers: list[dict[str, Any]]) -> bytes:
    """The month's cost by driver as a horizontal bar chart (PNG, drawn server-side)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    shown = list(reversed(drivers[:10]))  # largest at the top
    figure = Figure(figsize=(7.0, 0.45 * max(len(shown), 2) + 0.9), dpi=110)
    axes = figure.subplots()
    labels = [str(d["driver"]) for d in shown]
    amounts = [float(d["amount"]) for d in shown]  # plotting only: the figures stay Decimal
    axes.barh(labels, amounts, color="#2f6fdf")
    for y, d in enumerate(shown):
        axes.text(float(d["amount"]), y, " " + render.fmt_money(d["amount"]), va="center")
    axes.set_xlabel("USD this month")
    axes.set_title("Cost drivers")
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.25)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def render_html(values: dict[str, Any], chart_src: str | None = None) -> str:
    """The report as one self-contained HTML page (the chart as ``chart_src``: a data URI
    for files, the PDF and webhooks; ``cid:…`` in an email)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape())
    env.filters["money"] = render.fmt_money
    env.filters["pct"] = render.fmt_pct
    env.filters["points"] = points_text
    env.filters["cell"] = lambda value, column="": render.fmt_cell(column, value)
    return env.get_template("executive.html").render(**values, chart_src=chart_src)


def render_pdf(html: str) -> bytes:
    """The report as PDF (WeasyPrint); UserError when its system libraries are missing."""
    try:
        import weasyprint
    except OSError as exc:  # Pango / HarfBuzz not installed
        raise UserError(
            f"cannot write the report PDF: WeasyPrint's system libraries are missing ({exc})",
            "install them: `make weasyprint-libs` (Debian: libpango-1.0-0 libpangoft2-1.0-0)",
        ) from None
    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf


def summary(values: dict[str, Any]) -> dict[str, Any]:
    """The headline figures as JSON (money as 6-decimal strings), for webhooks and history."""
    overview = values["overview"]
    result: dict[str, Any] = render.jsonable(
        {
            **overview["totals"],
            "trend": overview["trend"],
            "health": {h["business_health_status"]: h["tenants"] for h in values["health"]},
            "month": values["month"],
            "provisional": values["provisional"],
            "window_usage_cost": values["usage"]["now"],
            "window_usage_cost_before": values["usage"]["before"],
            "new_signals": len(values["signals"]),
            "alerts": len(values["alerts"]),
        }
    )
    return result


def headline_text(values: dict[str, Any]) -> str:
    """A few lines for chat (Slack-compatible ``text``) and the email's plain-text part."""
    totals = values["overview"]["totals"]
    trend = values["overview"]["trend"]
    change = (
        f" ({points_text(trend['change_points'])} points vs {trend['compared_with']})"
        if trend.get("available")
        else ""
    )
    status = "provisional" if values["provisional"] else "final"
    return "\n".join(
        [
            f"*Executive report — {values['kind']} {values['label']}*"
            + (" (late)" if values["late"] else ""),
            f"Revenue {render.fmt_money(totals['revenue'])} · Cost "
            f"{render.fmt_money(totals['cost'])} · Margin "
            f"{render.fmt_pct(totals['gross_margin_pct'])}{change}",
            f"Figures of {values['month']}: {status}. New tier signals: "
            f"{len(values['signals'])}; alerts: {len(values['alerts'])}.",
            "Internal approximations, never billing.",
        ]
    )


class Rendered:
    """One report rendered: values, chart, HTML (data URI chart), PDF, subject."""

    def __init__(self, values: dict[str, Any], *, pdf: bool = True) -> None:
        self.values = values
        self.chart = drivers_chart_png(values["overview"]["cost_drivers"])
        self.html = render_html(values, data_uri(self.chart))
        self.pdf = render_pdf(self.html) if pdf else None
        late = " (late)" if values["late"] else ""
        self.subject = f"tenantcost executive report — {values['kind']} {values['label']}{late}"
        self.name = f"{values['kind']}-{values['label']}"

    def email_html(self) -> str:
        return render_html(self.values, f"cid:{CHART_CID}")

    def payload(self) -> dict[str, Any]:
        """What the delivery sinks get (JSON-safe; the outbox stores it until delivered)."""
        return {
            "type": "executive_report",
            "kind": self.values["kind"],
            "period": self.values["label"],
            "period_start": self.values["window"]["start"].isoformat(),
            "period_end": self.values["window"]["end"].isoformat(),
            "late": self.values["late"],
            "generated_at": self.values["generated_at"].isoformat(),
            "subject": self.subject,
            "name": self.name,
            "summary": summary(self.values),
            "text": headline_text(self.values),
            "html": self.html,
            "email_html": self.email_html(),
            "chart_png_base64": base64.b64encode(self.chart).decode(),
            "pdf_base64": base64.b64encode(self.pdf).decode() if self.pdf else None,
        }


__all__ = ["Kind", "Period", "Rendered", "report_values"]
