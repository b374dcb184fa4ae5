"""``tenantcost tiers``: tier ceilings, hourly evaluation, decisions, alerts, abuse signals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import typer
from rich.console import Console

from tenantcost.db.connect import Connection, connect
from tenantcost.errors import UserError
from tenantcost.numbers import strict_int
from tenantcost.output import OutputFormat, emit
from tenantcost.telemetry.timeutil import check_year
from tenantcost.tiers import store

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


def tier_input(
    price: str | None,
    cost_ceiling: str | None,
    storage_gb: str | None,
    requests_per_hour: str | None,
    latency_ms: str | None,
    margin_floor: str | None,
) -> dict[str, Any]:
    """The options given, parsed strictly (plain digits) within the tiers columns' bounds,
    keyed by the tier's field names."""
    given = {
        "monthly_price": (price, "--price"),
        "cost_ceiling": (cost_ceiling, "--cost-ceiling"),
        "storage_gb_ceiling": (storage_gb, "--storage-gb"),
        "requests_per_hour_ceiling": (requests_per_hour, "--requests-per-hour"),
        "latency_target_ms": (latency_ms, "--latency-ms"),
        "margin_floor_pct": (margin_floor, "--margin-floor"),
    }
    return {
        field: store.parse_tier_field(field, text, option)
        for field, (text, option) in given.items()
        if text is not None
    }


@app.command("set")
def set_(
    name: str = typer.Argument(..., help="Tier name, upper case (e.g. STARTER, or a new one)."),
    price: str = typer.Option(None, "--price", help="Monthly price, USD (e.g. 25.00)."),
    cost_ceiling: str = typer.Option(
        None, "--cost-ceiling", help="Monthly cost ceiling, USD (more than 0, 4 decimals at most)."
    ),
    storage_gb: str = typer.Option(None, "--storage-gb", help="Storage ceiling, GB."),
    requests_per_hour: str = typer.Option(
        None, "--requests-per-hour", help="Request ceiling: queries per hour (whole number)."
    ),
    latency_ms: str = typer.Option(None, "--latency-ms", help="Latency target, ms (whole number)."),
    margin_floor: str = typer.Option(
        None, "--margin-floor", help="Alert below this margin %% (0-100)."
    ),
    reason: str = typer.Option(
        ..., "--reason", help="Why (kept in the audit trail with each changed field)."
    ),
) -> None:
    """Create a tier or change some of its fields (the others keep their values).

    Numbers are plain digits (no sign, exponent or separators); the price has at most 2
    decimals, the cost ceiling 4, storage 3 (the settings page accepts the same).
    Each changed field leaves a `cost_audit` row (entity setting, `tier NAME.field`), as a
    change on the settings page does.
    """
    if not reason.strip():
        raise UserError("--reason is empty", "say why the tier changes, e.g. --reason 'Q3 pricing'")
    given = tier_input(price, cost_ceiling, storage_gb, requests_per_hour, latency_ms, margin_floor)
    with connect() as conn, conn.transaction():
        current: Mapping[str, Any] = store.get_tier(conn, name) or {}
        if not current and ("monthly_price" not in given or "cost_ceiling" not in given):
            raise UserError(f"tier {name} is new", "give at least --price and --cost-ceiling")
        fields = {k: current.get(k) for k in store.Tier.model_fields if k != "name"}
        fields.update(given)
        if fields.get("margin_floor_pct") is None:
            fields.pop("margin_floor_pct", None)
        tier = store.tier_from_input(name=name, **fields)
        changes = store.tier_changes(current, tier.model_dump())
        store.save_tier_audited(conn, tier, changes, "cli", reason)
    console.print(f"tier {tier.name} saved", markup=False)


@app.command("link")
def link(
    plan: str = typer.Argument(..., help="Plan name or id."),
    tier: str = typer.Argument(..., help="Tier name."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the audit trail)."),
) -> None:
    """Govern a plan's tenants by a tier's ceilings. The change leaves a `cost_audit` row
    (entity setting, `plan NAME.tier`, old and new tier)."""
    if not reason.strip():
        raise UserError("--reason is empty", "say why, e.g. --reason 'Growth moves to PRO'")
    with connect() as conn:
        plan_name = store.link_plan(conn, plan, tier, "cli", reason)
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


def parse_hour(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"--hour {text!r} is not a time", "use ISO 8601, e.g. 2026-11-22T14:00Z"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    check_year(moment.year, text, "--hour 2026-11-22T14:00Z")
    return moment


@app.command("evaluate")
def evaluate(
    hour: str = typer.Option(None, "--hour", help="UTC hour to evaluate (default: this hour)."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Compare each tenant's hour with its tier's ceilings; record decisions and alerts.

    Idempotent per hour and tenant. Decisions and new alerts go to the log and, when
    TENANTCOST_WEBHOOK_URL is set, into the outbox in the same transaction; `tenantcost
    outbox drain` (or the serve / collect --every job) sends them, signed, with retries.
    """
    from tenantcost.tiers.evaluate import evaluate_hour

    with connect() as conn:
        report = evaluate_hour(conn, parse_hour(hour))
    emit([report.summary_row()], fmt, title="tier evaluation")
    if report.decisions and fmt is OutputFormat.table:
        emit(report.decisions, fmt, title="new decisions")


@app.command("decisions")
def decisions(
    active: bool = typer.Option(False, "--active", help="Only signals still in force."),
    limit: int = typer.Option(
        200, "--limit", parser=strict_int("--limit", 1, 100_000), help="At most this many rows."
    ),
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
    limit: int = typer.Option(
        200, "--limit", parser=strict_int("--limit", 1, 100_000), help="At most this many rows."
    ),
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
        None,
        "--threshold",
        parser=strict_int("--threshold", 2, 1_000_000),
        help="Tenants sharing a value before it is flagged (at least 2).",
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
