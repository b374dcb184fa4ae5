"""``tenantcost tiers``: tier ceilings, hourly evaluation, decisions, alerts, abuse signals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from tenantcost.config import get_settings
from tenantcost.db.connect import Connection, connect
from tenantcost.errors import UserError
from tenantcost.output import OutputFormat, emit
from tenantcost.tiers import store

if TYPE_CHECKING:
    from tenantcost.tiers.evaluate import Sender
    from tenantcost.tiers.webhook import Delivery

app = typer.Typer(
    help="Tiers: ceilings, hourly evaluation (upgrade / soft / hard throttle signals), alerts.",
    no_args_is_help=True,
)
console = Console(stderr=True)
FORMAT = typer.Option(OutputFormat.table, "--format", help="table, json or csv.")


@app.command("list")
def list_(fmt: OutputFormat = FORMAT) -> None:
    """Every tier with its price, ceilings, margin floor and the plans it governs."""
    with connect() as conn:
        rows = store.list_tiers(conn)
    emit(
        rows,
        fmt,
        columns=TIER_COLUMNS,
        title="tiers",
        empty="no tiers; add one with `tenantcost tiers set`",
    )


@app.command("set")
def set_(
    name: str = typer.Argument(..., help="Tier name, upper case (e.g. STARTER, or a new one)."),
    price: str = typer.Option(None, "--price", help="Monthly price, USD."),
    cost_ceiling: str = typer.Option(None, "--cost-ceiling", help="Monthly cost ceiling, USD."),
    storage_gb: str = typer.Option(None, "--storage-gb", help="Storage ceiling, GB."),
    requests_per_hour: int = typer.Option(None, "--requests-per-hour", help="Request ceiling."),
    latency_ms: int = typer.Option(None, "--latency-ms", help="Latency target, ms."),
    margin_floor: str = typer.Option(None, "--margin-floor", help="Alert below this margin %."),
) -> None:
    """Create a tier or change some of its fields (the others keep their values)."""
    given = {
        "monthly_price": price,
        "cost_ceiling": cost_ceiling,
        "storage_gb_ceiling": storage_gb,
        "requests_per_hour_ceiling": requests_per_hour,
        "latency_target_ms": latency_ms,
        "margin_floor_pct": margin_floor,
    }
    with connect() as conn:
        current: Mapping[str, Any] = store.get_tier(conn, name) or {}
        if not current and (price is None or cost_ceiling is None):
            raise UserError(f"tier {name} is new", "give at least --price and --cost-ceiling")
        fields = {k: v if v is not None else current.get(k) for k, v in given.items()}
        if fields["margin_floor_pct"] is None:
            fields.pop("margin_floor_pct")
        tier = store.tier_from_input(name=name, **fields)
        store.save_tier(conn, tier)
    console.print(f"tier {tier.name} saved", markup=False)


@app.command("link")
def link(
    plan: str = typer.Argument(..., help="Plan name or id."),
    tier: str = typer.Argument(..., help="Tier name."),
) -> None:
    """Govern a plan's tenants by a tier's ceilings."""
    with connect() as conn:
        plan_name = store.link_plan(conn, plan, tier)
    console.print(f"plan {plan_name} → tier {tier}", markup=False)


#: The columns of ``tiers list`` (queries.sql tiers).
TIER_COLUMNS = (
    "name",
    "monthly_price",
    "cost_ceiling",
    "storage_gb_ceiling",
    "requests_per_hour_ceiling",
    "latency_target_ms",
    "margin_floor_pct",
    "plans",
)


def query_report(
    conn: Connection,
    query: str,
    params: Mapping[str, Any],
    fmt: OutputFormat,
    *,
    title: str,
    empty: str,
) -> None:
    """Run a named query and print its rows; the columns come from the query itself, so an
    empty CSV still has its header."""
    cur = conn.execute(store.sql(query), params)
    rows = cur.fetchall()
    emit(rows, fmt, columns=[d.name for d in cur.description or []], title=title, empty=empty)


def webhook_sender() -> Sender | None:
    settings = get_settings()
    if not settings.webhook_url:
        return None
    if settings.webhook_secret is None:
        raise UserError(
            "TENANTCOST_WEBHOOK_URL is set without a secret", "set TENANTCOST_WEBHOOK_SECRET"
        )
    url, secret = settings.webhook_url, settings.webhook_secret.get_secret_value()

    def send(payload: Mapping[str, Any]) -> Delivery:
        from tenantcost.tiers.webhook import deliver

        return deliver(url, secret, payload, attempts=settings.webhook_retries)

    return send


def parse_hour(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"--hour {text!r} is not a time", "use ISO 8601, e.g. 2026-11-22T14:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("evaluate")
def evaluate(
    hour: str = typer.Option(None, "--hour", help="UTC hour to evaluate (default: this hour)."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Compare each tenant's hour with its tier's ceilings; record decisions and alerts.

    Idempotent per hour and tenant. Decisions and new alerts go to the log and, when
    TENANTCOST_WEBHOOK_URL is set, to the webhook (signed); a failing webhook is reported.
    """
    from tenantcost.tiers.evaluate import evaluate_hour

    with connect() as conn:
        report = evaluate_hour(conn, parse_hour(hour), sender=webhook_sender())
    emit([report.summary_row()], fmt, title="tier evaluation")
    if report.decisions and fmt is OutputFormat.table:
        emit(report.decisions, fmt, title="new decisions")


@app.command("decisions")
def decisions(
    active: bool = typer.Option(False, "--active", help="Only signals still in force."),
    limit: int = typer.Option(200, "--limit", min=1, help="At most this many rows."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Tier decisions with their evidence: ceiling, figure, percent of ceiling, since when."""
    with connect() as conn:
        query_report(
            conn,
            "decisions",
            {"active": active, "limit": limit},
            fmt,
            title="tier decisions" + (" (active)" if active else ""),
            empty="no active tier decisions" if active else "no tier decisions",
        )


@app.command("alerts")
def alerts(
    open_only: bool = typer.Option(False, "--open", help="Only alerts whose episode goes on."),
    limit: int = typer.Option(200, "--limit", min=1, help="At most this many rows."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Margin, outlier, jump and plan-above-price alerts: one row per episode."""
    with connect() as conn:
        query_report(
            conn,
            "alerts",
            {"open_only": open_only, "limit": limit},
            fmt,
            title="alerts",
            empty="no open alerts" if open_only else "no alerts",
        )


@app.command("abuse")
def abuse(
    threshold: int = typer.Option(
        None, "--threshold", min=2, help="Tenants sharing a value before it is flagged."
    ),
    fmt: OutputFormat = FORMAT,
) -> None:
    """FREE tenants sharing an email domain or signup IP (seed 002 §10, risk 1)."""
    with connect() as conn:
        if threshold is None:
            row = conn.execute(store.sql("setting"), {"key": "free_abuse_threshold"}).fetchone()
            threshold = int(Decimal(row["value"])) if row else 3
        query_report(
            conn,
            "free_abuse",
            {"threshold": threshold},
            fmt,
            title=f"FREE tenants sharing a signup signal (≥ {threshold})",
            empty=f"no signup email domain or IP shared by {threshold} or more FREE tenants",
        )
