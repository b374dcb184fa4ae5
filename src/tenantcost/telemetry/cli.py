"""``tenantcost tenants …`` (how tenants show up in PostgreSQL) and ``tenantcost collect``."""

from __future__ import annotations

import re
import signal
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from types import FrameType
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from tenantcost.db.connect import Connection, connect
from tenantcost.errors import UserError
from tenantcost.output import OutputFormat, emit
from tenantcost.telemetry.collector import Collector, PassReport
from tenantcost.telemetry.mapping import Kind, map_tenant, sql, unmap_tenant
from tenantcost.telemetry.timeutil import hour_of

tenants_app = typer.Typer(
    help=(
        "How each tenant shows up in PostgreSQL: its own database, role or schema, or rows "
        "in shared tables with a tenant_id column. The collector attributes usage through it."
    ),
    no_args_is_help=True,
)
err = Console(stderr=True)

TENANT = typer.Argument(..., help="The tenant: companies.id (uuid) or a unique company name.")


def _kind(
    database: str | None, role: str | None, schema: str | None, shared: bool
) -> tuple[Kind, str | None]:
    options: tuple[tuple[Kind, str | None], ...] = (
        ("database", database),
        ("role", role),
        ("schema", schema),
    )
    given: list[tuple[Kind, str | None]] = [(k, v) for k, v in options if v is not None]
    if shared:
        given.append(("shared", None))
    if len(given) != 1:
        raise UserError(
            "give exactly one of --database, --role, --schema or --shared",
            "e.g. tenantcost tenants map acme --database acme_prod",
        )
    return given[0]


@tenants_app.command("map")
def map_command(
    tenant: str = TENANT,
    database: str | None = typer.Option(None, "--database", help="The tenant's own database."),
    role: str | None = typer.Option(None, "--role", help="The tenant's own login role."),
    schema: str | None = typer.Option(
        None, "--schema", help="The tenant's own schema in tenantcost's database."
    ),
    shared: bool = typer.Option(
        False, "--shared", help="The tenant's rows live in shared tables with a tenant_id column."
    ),
) -> None:
    """Map a tenant to its database, role, schema, or shared tables (one per call)."""
    kind, name = _kind(database, role, schema, shared)
    with connect() as conn:
        outcome, tenant_id, company = map_tenant(conn, tenant, kind, name)
    target = f"{kind} {name}" if name else "shared tables (tenant_id column)"
    print(f"{outcome}: {company} ({tenant_id}) -> {target}")


@tenants_app.command("unmap")
def unmap_command(
    tenant: str = TENANT,
    database: str | None = typer.Option(None, "--database", help="Remove only this database."),
    role: str | None = typer.Option(None, "--role", help="Remove only this role."),
    schema: str | None = typer.Option(None, "--schema", help="Remove only this schema."),
    shared: bool = typer.Option(False, "--shared", help="Remove only the shared-table mapping."),
) -> None:
    """Remove a tenant's mappings (all of them unless one is named). Usage already
    collected stays."""
    kind: Kind | None = None
    name: str | None = None
    if database or role or schema or shared:
        kind, name = _kind(database, role, schema, shared)
    with connect() as conn:
        removed = unmap_tenant(conn, tenant, kind, name)
    if not removed:
        raise UserError(
            f"{tenant} has no such mapping", "see `tenantcost tenants list` for what is mapped"
        )
    for r in removed:
        print(f"unmapped {r['kind']} {r['object_name'] or ''}".rstrip())


@tenants_app.command("list")
def list_command(
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """Every mapping: tenant, kind and the database / role / schema name."""
    with connect() as conn:
        rows = [dict(r) for r in conn.execute(sql("mapping_all")).fetchall()]
    emit(
        rows,
        fmt,
        columns=("company_name", "tenant_id", "kind", "object_name", "created_at", "created_by"),
        title="Tenant mapping",
    )


# ---- collect ---------------------------------------------------------------------------
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """``60``, ``60s``, ``5m``, ``1h`` -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise UserError(f"--every {text!r} is not a duration", "e.g. --every 60s, 5m or 1h")
    value = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]
    if value < 1:
        raise UserError("--every must be at least 1 second", "e.g. --every 60s")
    return value


def _price_hour(conn: Connection, report: PassReport) -> str | None:
    from tenantcost.attribution.ledger import attribute_period
    from tenantcost.telemetry.timeutil import hour_period

    try:
        attribute_period(conn, hour_period(report.hour))
    except UserError as exc:
        fix = f"; fix: {exc.hint}" if exc.hint else ""
        return f"hourly pricing skipped: {exc.message}{fix}"
    return None


def _show_pass(conn: Connection, report: PassReport, fmt: OutputFormat) -> None:
    names = {r["id"]: r["name"] for r in conn.execute("SELECT id, name FROM companies").fetchall()}
    rows: list[dict[str, Any]] = []
    for tenant, metrics in sorted(report.per_tenant().items(), key=lambda kv: str(kv[0])):

        def q(metric: str, metrics: dict[str, tuple[Decimal, str]] = metrics) -> Decimal | None:
            return metrics[metric][0] if metric in metrics else None

        compute = metrics.get("compute_seconds")
        rows.append(
            {
                "tenant": names.get(tenant, str(tenant)) if tenant else "(unattributed)",
                "queries": q("query_count"),
                "compute_seconds": q("compute_seconds"),
                "compute_source": compute[1] if compute else None,
                "connection_seconds": q("connection_seconds"),
                "storage_bytes": q("storage_bytes"),
                "egress_bytes": q("egress_bytes"),
            }
        )
    emit(
        rows,
        fmt,
        columns=[
            "tenant",
            "queries",
            "compute_seconds",
            "compute_source",
            "connection_seconds",
            "storage_bytes",
            "egress_bytes",
        ],
        title=f"Usage counted for {report.hour:%Y-%m-%d %H}:00 UTC",
        empty="no usage counted in this pass",
    )
    if fmt is OutputFormat.table:
        for line in pass_notes(report.sources, report.warnings):
            err.print(line, highlight=False)


def pass_notes(sources: dict[str, str], warnings: list[str]) -> list[Text]:
    """Where each figure came from, then the warnings; a source that is itself a warning
    (e.g. pg_stat_statements missing) is printed once, as a warning."""
    lines = []
    for name, text in sources.items():
        label = ("warning: ", "yellow") if text in warnings else ""
        lines.append(Text.assemble(label, (f"{name}:", "bold"), " ", text))
    shown = set(sources.values())
    lines += [Text.assemble(("warning:", "yellow"), " ", w) for w in warnings if w not in shown]
    return lines


def _evaluate_finished_hour(
    conn: Connection, now: datetime, evaluated: datetime | None
) -> datetime | None:
    """Evaluate tiers once per hour, for the hour that has just ended (its usage is priced)."""
    from tenantcost.tiers.cli import webhook_sender
    from tenantcost.tiers.evaluate import evaluate_hour

    finished = hour_of(now) - timedelta(hours=1)
    if evaluated is not None and finished <= evaluated:
        return evaluated
    report = evaluate_hour(conn, finished, sender=webhook_sender())
    err.print(
        f"tiers {finished:%Y-%m-%dT%H}: {report.tenants} tenants, "
        f"{len(report.decisions)} decisions, {len(report.alerts_opened)} alerts opened, "
        f"{report.deliveries_failed} webhook failures",
        highlight=False,
    )
    return finished


def collect_command(
    every: str | None = typer.Option(
        None,
        "--every",
        help="Keep collecting at this interval (e.g. 60s, 5m) until SIGINT/SIGTERM; "
        "without it, one pass.",
    ),
    interval: str = typer.Option(
        "60s",
        "--interval",
        help="For a single pass: how long one pg_stat_activity sample stands for the first "
        "time (later passes use the time since the previous sample, capped at 2 intervals).",
    ),
    price: bool = typer.Option(
        True, "--price/--no-price", help="Price the pass's hour into the ledger afterwards."
    ),
    host: bool = typer.Option(
        True, "--host/--no-host", help="Measure the server's processes (local servers only)."
    ),
    evaluate: bool = typer.Option(
        True,
        "--evaluate/--no-evaluate",
        help="With --every: evaluate tiers for each hour once it has ended (signals, alerts, "
        "webhook).",
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """Collect usage per tenant: pg_stat_statements deltas, pg_stat_database and
    pg_stat_activity samples, storage sizes and host CPU/memory, into tenant_usage_hourly."""
    seconds = parse_duration(every or interval)
    with connect(autocommit=True) as conn:  # each pass commits its own transaction
        collector = Collector(conn, interval_s=seconds, measure_host=host)
        if every is None:
            report = collector.collect()
            note = _price_hour(conn, report) if price else None
            if note:
                report.warnings.append(note)
            _show_pass(conn, report, fmt)
            return
        stop = threading.Event()

        def handle(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
        passes = 0
        evaluated: datetime | None = None
        try:
            while not stop.is_set():
                report = collector.collect()
                note = _price_hour(conn, report) if price else None
                passes += 1
                err.print(
                    f"pass {passes} {report.started_at:%H:%M:%S}: {len(report.rows)} usage rows, "
                    f"{report.statements_seen} statements, {report.duration_s * 1000:.0f} ms"
                    + "".join(
                        f"\n  warning: {w}" for w in [*report.warnings, *([note] if note else [])]
                    ),
                    highlight=False,
                )
                if evaluate:
                    evaluated = _evaluate_finished_hour(conn, report.started_at, evaluated)
                stop.wait(seconds)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        err.print(f"stopped after {passes} passes", highlight=False)
