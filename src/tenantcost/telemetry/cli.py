"""``tenantcost tenants …`` (how tenants show up in PostgreSQL) and ``tenantcost collect``."""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.text import Text
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from tenantcost.attribution.hours import price_pass_hours
from tenantcost.db.connect import Connection, connect
from tenantcost.errors import DatabaseUnavailable, UserError
from tenantcost.output import OutputFormat, emit
from tenantcost.telemetry.mapping import Kind, map_tenant, sql, unmap_tenant
from tenantcost.telemetry.sampler import BackendSampler, start_sampler
from tenantcost.telemetry.timeutil import hour_of

if TYPE_CHECKING:
    from tenantcost.telemetry.collector import Collector, PassReport

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
_DURATION = re.compile(r"\s*([0-9]{1,9}(?:\.[0-9]{1,6})?)\s*(s|m|h)?\s*")
#: The longest interval: one pass a day (a longer wait is a typo, and overflows timers).
MAX_DURATION_S = 86400.0


def parse_duration(text: str, option: str = "--every") -> float:
    """``60``, ``60s``, ``5m``, ``1h`` -> seconds, from 1 s to 24 h."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise UserError(f"{option} {text!r} is not a duration", f"e.g. {option} 60s, 5m or 1h")
    value = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]
    if value < 1:
        raise UserError(f"{option} must be at least 1 second", f"e.g. {option} 60s")
    if value > MAX_DURATION_S:
        raise UserError(f"{option} must be at most 24 hours", f"e.g. {option} 1h")
    return value


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
    background = report.per_tenant().get(None, {}).get("background_cpu_seconds")
    if background is not None:  # server processes serving no tenant: a line of its own
        rows.append(
            {
                "tenant": "(background)",
                "queries": None,
                "compute_seconds": background[0],
                "compute_source": background[1],
                "connection_seconds": None,
                "storage_bytes": None,
                "egress_bytes": None,
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
    from tenantcost.tiers.evaluate import evaluate_hour

    finished = hour_of(now) - timedelta(hours=1)
    if evaluated is not None and finished <= evaluated:
        return evaluated
    report = evaluate_hour(conn, finished)
    err.print(
        f"tiers {finished:%Y-%m-%dT%H}: {report.tenants} tenants, "
        f"{len(report.decisions)} decisions, {len(report.alerts_opened)} alerts opened, "
        f"{report.events_queued} events queued",
        highlight=False,
    )
    return finished


def _scheduled_reports(conn: Connection) -> None:
    """Executive reports whose time has come (issue 17); the drain below delivers them."""
    from tenantcost.execreport.run import ScheduledReports

    try:
        made_now = ScheduledReports()(conn)
    except Exception as exc:  # a failing report must not stop collecting
        if database_unavailable(exc):
            raise  # an outage: the loop reconnects and says so
        err.print(f"  warning: scheduled reports failed: {type(exc).__name__}: {exc}")
        return
    for made in made_now:
        err.print(
            f"  {made.period.kind} report {made.period.label} generated, queued for "
            f"{', '.join(made.queued) or 'no channel'}",
            highlight=False,
        )


def _drain_outbox(conn: Connection) -> str | None:
    """Deliver due outbox events (the webhook); a failing receiver is a warning, no more."""
    from tenantcost.config import get_settings
    from tenantcost.outbox.drain import drain_configured

    report = drain_configured(conn, get_settings())
    if report.failed:
        return f"outbox: {report.delivered} delivered, {report.failed} failed attempts (retried)"
    return None


#: Longest wait between two reconnection attempts while the database is away.
RECONNECT_MAX_WAIT = 60.0


def database_unavailable(exc: BaseException) -> bool:
    """An outage worth waiting out: the connection broke, or the server cannot be reached or
    refuses connections for now (``connect`` says so with DatabaseUnavailable). A wrong
    password or a missing database is not: it is reported and the command stops."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | DatabaseUnavailable)


class Outage:
    """Logs a database outage once when it starts and once when it ends."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.since: float | None = None
        self.failures = 0

    def failed(self, state: RetryCallState) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            exc = state.outcome.exception() if state.outcome else None
            detail = str(exc).strip().splitlines()[0] if exc else "unknown error"
            self.say(f"database unavailable ({detail}); retrying with backoff until it is back")

    def recovered(self) -> None:
        if self.since is not None:
            away = time.monotonic() - self.since
            self.say(f"database back after {away:.0f}s ({self.failures} failed attempts)")
        self.since, self.failures = None, 0


def _interruptible(stop: threading.Event) -> Callable[[float], None]:
    """A sleep for tenacity that SIGINT/SIGTERM (``stop``) cut short."""

    def sleep(seconds: float) -> None:
        stop.wait(seconds)

    return sleep


def run_every(
    seconds: float,
    stop: threading.Event,
    open_connection: Callable[[], Connection],
    one_pass: Callable[[Connection, Collector], None],
    make_collector: Callable[[Connection], Collector],
    say: Callable[[str], None],
    *,
    backoff_base: float = 1.0,
    backoff_max: float = RECONNECT_MAX_WAIT,
) -> int:
    """Run ``one_pass`` every ``seconds`` until ``stop`` is set; returns the passes completed.

    When the database goes away (a restart, a failover) the pass is retried with exponential
    backoff (tenacity: base, 2·base, … up to ``backoff_max`` seconds) on a new connection,
    logging the outage once when it starts and once when it ends; SIGINT/SIGTERM still stop
    it at once. Any other error ends the loop as before.
    """
    session: dict[str, Any] = {}
    outage = Outage(say)

    def reset() -> None:
        conn = session.pop("conn", None)
        session.pop("collector", None)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def attempt() -> None:
        if "conn" not in session or session["conn"].closed:
            reset()
            session["conn"] = open_connection()
            session["collector"] = make_collector(session["conn"])
        try:
            one_pass(session["conn"], session["collector"])
        except BaseException as exc:
            if database_unavailable(exc):
                reset()
            raise

    retrying = Retrying(
        retry=retry_if_exception(database_unavailable),
        wait=wait_exponential(multiplier=backoff_base, max=backoff_max),
        stop=lambda state: stop.is_set(),
        sleep=_interruptible(stop),
        before_sleep=outage.failed,
        reraise=True,
    )
    passes = 0
    try:
        while not stop.is_set():
            try:
                retrying(attempt)
            except Exception as exc:
                if stop.is_set() and database_unavailable(exc):
                    break  # stopped while waiting for the database
                raise
            outage.recovered()
            passes += 1
            stop.wait(seconds)
    finally:
        reset()
    return passes


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
        "queued for the webhook).",
    ),
    sample: bool = typer.Option(
        True,
        "--sampler/--no-sampler",
        help="Measure compute with the backend CPU sampler (per-backend CPU from the kernel "
        "every TENANTCOST_SAMPLER_INTERVAL seconds) when the server's processes are visible "
        "here; otherwise, or with --no-sampler, pg_stat_kcache or execution time.",
    ),
    sample_for: str | None = typer.Option(
        None,
        "--sample-for",
        help="For a single pass: run the backend CPU sampler this long (e.g. 30s) before "
        "the pass, to measure a workload driven meanwhile.",
    ),
    retention: bool = typer.Option(
        False,
        "--retention",
        help="No pass: only apply usage evidence retention (every pass does it first) - roll "
        "UTC days older than TENANTCOST_USAGE_HOURLY_DAYS up into daily evidence (re-pricing "
        "a day first if it changed), drop their hourly partitions, delete daily evidence "
        "older than TENANTCOST_USAGE_RETENTION_MONTHS; one transaction per day.",
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """Collect usage per tenant: pg_stat_statements deltas, pg_stat_database and
    pg_stat_activity samples, backend CPU samples, storage sizes and host CPU/memory, into
    tenant_usage_hourly. Says which source measured compute.

    With --every, each pass also delivers due outbox events (the tier webhook), and a
    database restart is waited out: retried with exponential backoff up to 60 s, logged once
    when it starts and once when it ends."""
    if retention:
        if every is not None or sample_for is not None:
            raise UserError(
                "--retention runs no pass: it takes no --every or --sample-for",
                "run `tenantcost collect --retention` on its own (passes apply it too)",
            )
        _retention_only(fmt)
        return
    seconds = parse_duration(every or interval)
    window = parse_duration(sample_for, "--sample-for") if sample_for is not None else None
    if window is not None and every is not None:
        raise UserError(
            "--sample-for is for a single pass; with --every the sampler runs all along",
            "drop one of --sample-for and --every",
        )
    if window is not None and not sample:
        raise UserError("--sample-for needs the sampler", "drop --no-sampler")
    from tenantcost.telemetry.collector import Collector  # psycopg: loaded to run, not for help

    if every is None:
        with connect(autocommit=True) as conn:  # each pass commits its own transaction
            sampler = _start_sampler(conn) if sample and window else None
            collector = Collector(conn, interval_s=seconds, measure_host=host, sampler=sampler)
            try:
                if sampler is not None and window is not None:
                    err.print(f"sampling backend CPU for {window:g} s …", highlight=False)
                    _wait(window)
                    sampler.stop()
                report = collector.collect()
                note = price_pass_hours(conn, report.hours) if price else None
                if note:
                    report.warnings.append(note)
                _show_pass(conn, report, fmt)
            finally:
                if sampler is not None:
                    sampler.stop(final_tick=False)
        return
    _collect_loop(seconds, price=price, host=host, evaluate=evaluate, sample=sample)


def _retention_only(fmt: OutputFormat) -> None:
    from tenantcost.config import get_settings
    from tenantcost.telemetry.retention import apply_retention

    settings = get_settings()
    with connect(autocommit=True) as conn:  # one transaction per rolled-up day
        row: Any = conn.execute(sql("now")).fetchone()
        done = apply_retention(
            conn, row["now"], settings, progress=lambda m: err.print(m, highlight=False)
        )
    columns = (
        "hourly_before",
        "daily_before",
        "days_rolled_up",
        "hourly_rows",
        "days_repriced",
        "partitions_dropped",
        "daily_days_deleted",
    )
    emit(
        [
            {
                "hourly_before": done.hourly_before,
                "daily_before": done.daily_before,
                "days_rolled_up": len(done.rolled_days),
                "hourly_rows": done.hourly_rows,
                "days_repriced": len(done.repriced_days),
                "partitions_dropped": len(done.dropped),
                "daily_days_deleted": done.daily_days_deleted,
            }
        ],
        fmt,
        columns=columns,
        title="Usage evidence retention",
    )
    for note in done.messages(settings):
        err.print(Text(note))


def _start_sampler(conn: Connection) -> BackendSampler | None:
    """A running backend sampler, or None (with a note) when the server is not visible."""
    sampler, why = start_sampler(conn)
    if sampler is None:
        err.print(
            f"backend sampler off: {why}; compute from pg_stat_kcache or execution time",
            highlight=False,
        )
    return sampler


def _wait(window: float) -> None:
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.wait(window)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _collect_loop(seconds: float, *, price: bool, host: bool, evaluate: bool, sample: bool) -> None:
    """``collect --every``: passes until SIGINT/SIGTERM, reconnecting after an outage; the
    backend sampler (when it can run) keeps sampling across passes and reconnections."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    passes = 0
    evaluated: datetime | None = None
    samplers: list[BackendSampler] = []
    from tenantcost.web.jobs import posthog_jobs

    extra_jobs = posthog_jobs()  # the PostHog export, when configured

    from tenantcost.telemetry.collector import Collector

    def make_collector(conn: Connection) -> Collector:
        if sample and not samplers:
            started = _start_sampler(conn)
            if started is not None:
                samplers.append(started)
        sampler = samplers[0] if samplers else None
        return Collector(conn, interval_s=seconds, measure_host=host, sampler=sampler)

    def one_pass(conn: Connection, collector: Collector) -> None:
        nonlocal passes, evaluated
        report = collector.collect()
        notes = [*report.warnings]
        note = price_pass_hours(conn, report.hours) if price else None
        notes += [note] if note else []
        passes += 1
        err.print(
            f"pass {passes} {report.started_at:%H:%M:%S}: {len(report.rows)} usage rows, "
            f"{report.statements_seen} statements, {report.duration_s * 1000:.0f} ms, "
            f"compute from {report.compute_source}" + "".join(f"\n  warning: {w}" for w in notes),
            highlight=False,
        )
        if evaluate:
            evaluated = _evaluate_finished_hour(conn, report.started_at, evaluated)
        _scheduled_reports(conn)
        drained = _drain_outbox(conn)
        if drained:
            err.print(f"  warning: {drained}", highlight=False)
        for job in extra_jobs.values():
            said = job(conn)
            if said:
                err.print(f"  {said}", highlight=False)

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        run_every(
            seconds,
            stop,
            lambda: connect(autocommit=True),
            one_pass,
            make_collector,
            lambda text: err.print(text, highlight=False),
        )
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for sampler in samplers:
            sampler.stop(final_tick=False)
    err.print(f"stopped after {passes} passes", highlight=False)
