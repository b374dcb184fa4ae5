"""``tenantcost tiers``: tier ceilings, hourly evaluation, decisions, alerts, abuse signals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import typer
from rich.console import Console

from tenantcost.db.connect import connect
from tenantcost.errors import UserError
from tenantcost.numbers import parse_decimal, parse_integer, strict_int
from tenantcost.output import OutputFormat, emit
from tenantcost.telemetry.timeutil import check_year
from tenantcost.tiers import store
from tenantcost.tiers.evaluate import evaluate_hour

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
        emit(store.list_tiers(conn), fmt, title="tiers")


#: Largest values the tiers table holds (numeric(10,2) price, int ceilings) or that make sense.
TIER_MAX_MONEY = Decimal("99999999.99")
TIER_MAX_GB = Decimal(1_000_000_000)
TIER_MAX_INT = 2**31 - 1


def tier_input(
    price: str | None,
    cost_ceiling: str | None,
    storage_gb: str | None,
    requests_per_hour: str | None,
    latency_ms: str | None,
    margin_floor: str | None,
) -> dict[str, Any]:
    """The options given, parsed strictly (plain digits), keyed by the tier's field names."""
    money = {"maximum": TIER_MAX_MONEY, "places": 2, "example": "25.00"}
    decimals: dict[str, tuple[str | None, str, dict[str, Any]]] = {
        "monthly_price": (price, "--price", money),
        "cost_ceiling": (cost_ceiling, "--cost-ceiling", money),
        "storage_gb_ceiling": (storage_gb, "--storage-gb", {"maximum": TIER_MAX_GB}),
        "margin_floor_pct": (
            margin_floor,
            "--margin-floor",
            {"maximum": Decimal(100), "example": "70"},
        ),
    }
    parsed: dict[str, Any] = {
        field: parse_decimal(text, what=option, **limits)
        for field, (text, option, limits) in decimals.items()
        if text is not None
    }
    for field, text, option in (
        ("requests_per_hour_ceiling", requests_per_hour, "--requests-per-hour"),
        ("latency_target_ms", latency_ms, "--latency-ms"),
    ):
        if text is not None:
            parsed[field] = parse_integer(text, what=option, minimum=1, maximum=TIER_MAX_INT)
    return parsed


@app.command("set")
def set_(
    name: str = typer.Argument(..., help="Tier name, upper case (e.g. STARTER, or a new one)."),
    price: str = typer.Option(None, "--price", help="Monthly price, USD (e.g. 25.00)."),
    cost_ceiling: str = typer.Option(
        None, "--cost-ceiling", help="Monthly cost ceiling, USD (more than 0)."
    ),
    storage_gb: str = typer.Option(None, "--storage-gb", help="Storage ceiling, GB."),
    requests_per_hour: str = typer.Option(
        None, "--requests-per-hour", help="Request ceiling: queries per hour (whole number)."
    ),
    latency_ms: str = typer.Option(None, "--latency-ms", help="Latency target, ms (whole number)."),
    margin_floor: str = typer.Option(
        None, "--margin-floor", help="Alert below this margin %% (0-100)."
    ),
) -> None:
    """Create a tier or change some of its fields (the others keep their values).

    Numbers are plain digits (no sign, exponent or separators); money has at most 2 decimals.
    """
    given = tier_input(price, cost_ceiling, storage_gb, requests_per_hour, latency_ms, margin_floor)
    with connect() as conn:
        current: Mapping[str, Any] = store.get_tier(conn, name) or {}
        if not current and ("monthly_price" not in given or "cost_ceiling" not in given):
            raise UserError(f"tier {name} is new", "give at least --price and --cost-ceiling")
        fields = {k: current.get(k) for k in store.Tier.model_fields if k != "name"}
        fields.update(given)
        if fields.get("margin_floor_pct") is None:
            fields.pop("margin_floor_pct", None)
        tier = store.tier_from_input(name=name, **fields)
        store.save_tier(conn, tier)
    console.print(f"tier {tier.name} saved")


@app.command("link")
def link(
    plan: str = typer.Argument(..., help="Plan name or id."),
    tier: str = typer.Argument(..., help="Tier name."),
) -> None:
    """Govern a plan's tenants by a tier's ceilings."""
    with connect() as conn:
        plan_name = store.link_plan(conn, plan, tier)
    console.print(f"plan {plan_name} → tier {tier}")


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
        rows = conn.execute(store.sql("decisions"), {"active": active, "limit": limit}).fetchall()
    emit(rows, fmt, title="tier decisions" + (" (active)" if active else ""))


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
        rows = conn.execute(store.sql("alerts"), {"open_only": open_only, "limit": limit})
        emit(rows.fetchall(), fmt, title="alerts")


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
        rows = conn.execute(store.sql("free_abuse"), {"threshold": threshold}).fetchall()
    emit(rows, fmt, title=f"FREE tenants sharing a signup signal (≥ {threshold})")
