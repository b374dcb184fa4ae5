"""The main job behind ``make run``: every step real, each shown with a progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tenantcost.db import migrate
from tenantcost.db.connect import connect, database_url, redact
from tenantcost.db.queries import queries
from tenantcost.demo.fleet import load_demo
from tenantcost.output import emit
from tenantcost.verification import run_all


@dataclass
class JobState:
    url: str = ""
    loaded: bool = False  # the fleet was (re)loaded this run: its history is loaded too
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per step (bench/demo)
    workload_done: bool = False  # the telemetry workload ran beside the history's pricing


Step = tuple[str, Callable[[JobState, Callable[[str], None]], None]]


def _start(state: JobState, say: Callable[[str], None]) -> None:
    state.url = database_url()
    say(f"database {redact(state.url)}")


def _migrate(state: JobState, say: Callable[[str], None]) -> None:
    migrate.upgrade(state.url)
    say(f"schema at revision {migrate.current_revision(state.url)}")


def _price_books(state: JobState, say: Callable[[str], None]) -> None:
    from tenantcost.pricing.book import shipped_price_books
    from tenantcost.pricing.store import import_book

    with connect(state.url) as conn:
        outcomes = [f"{b.name} {import_book(conn, b)}" for b in shipped_price_books()]
    state.notes.append("price books: " + ", ".join(outcomes))


def _load(
    tenants: int, seed: int, reload: bool
) -> Callable[[JobState, Callable[[str], None]], None]:
    def step(state: JobState, say: Callable[[str], None]) -> None:
        with connect(state.url) as conn:
            row = conn.execute("SELECT count(*) AS n FROM companies").fetchone()
            existing = row["n"] if row else 0
            if existing and not reload:
                state.notes.append(
                    f"reused the {existing} tenants already loaded (--reload replaces them)"
                )
                return
            summary = load_demo(conn, tenants=tenants, seed=seed, replace=True, progress=say)
            state.loaded = True
            state.notes.append(
                f"loaded {summary.tenants} tenants, {summary.vps} VPS, {summary.ips} IPs, "
                f"{summary.payments} payments, {summary.analytics_rows} daily analytics rows"
            )

    return step


def _sync_hostwinds(state: JobState, say: Callable[[str], None]) -> None:
    """Price every demo VPS through the Hostwinds client, against the local fake API."""
    import secrets

    from tenantcost.costs.sync import sync_vps
    from tenantcost.providers.fake_hostwinds import FakeHostwinds, FakeService
    from tenantcost.providers.hostwinds import HostwindsClient

    with connect(state.url) as conn:
        services = [
            FakeService(r["hostwinds_service_id"], r["hostwinds_plan_id"], r["billing_cycle"])
            for r in conn.execute(sql("linked_vps")).fetchall()
        ]
    key = secrets.token_urlsafe(16)
    with (
        FakeHostwinds(services=services, api_key=key) as fake,
        HostwindsClient(fake.url, key, timeout=5.0) as client,
        connect(state.url) as conn,
    ):
        report = sync_vps(
            conn, client, progress=lambda done, total, _label: say(f"{done}/{total} VPS")
        )
    state.notes.append(
        f"Hostwinds sync (fake API on 127.0.0.1): {len(report.changed)} changed, "
        f"{len(report.unchanged)} unchanged, {len(report.overridden)} overridden, "
        f"{len(report.failed)} failed; monthly delta {report.total_delta}"
    )


def _history(days: int) -> Callable[[JobState, Callable[[str], None]], None]:
    def step(state: JobState, say: Callable[[str], None]) -> None:
        """Demo usage evidence for the last ``days`` days, priced and attributed like real
        telemetry (only when the fleet was loaded this run: it belongs to those tenants)."""
        from concurrent.futures import Future, ThreadPoolExecutor

        from tenantcost.demo.history import load_history

        if not state.loaded:
            return
        # The telemetry workload (real queries in the tenants' own databases, collected into
        # the current hour) runs beside the history's pricing, which prices on one connection
        # for its last steps and leaves a core idle; the job's attribution step prices the
        # current hour and month afterwards either way.
        started: list[Future[None]] = []
        with ThreadPoolExecutor(max_workers=1) as beside:

            def start_workload() -> None:
                started.append(beside.submit(_workload, state, lambda _message: None))

            with connect(state.url) as conn, connect(state.url) as second:
                result = load_history(
                    conn, days=days, progress=say, more=[second], evidence_written=start_workload
                )
            say("the telemetry workload")
            for future in started:
                future.result()
                state.workload_done = True
        state.notes.append(
            f"usage history: {result.days} days, {result.evidence_rows:,} evidence rows "
            f"(source 'demo', seed 002's tier profiles), priced and attributed for "
            f"{', '.join(result.months)}"
        )

    return step


def _refresh(state: JobState, say: Callable[[str], None]) -> None:
    from tenantcost.report import refresh_rollups

    with connect(state.url) as conn:
        result = refresh_rollups(conn)
    say(f"{result.state.tenants} tenants in {result.seconds:.1f} s")


def _workload(state: JobState, say: Callable[[str], None]) -> None:
    """Drive real queries for three tenants (a FREE one 4x a STARTER one, a PRO one idle),
    each in its own database, and collect pg_stat_statements before and after."""
    from tenantcost.telemetry.workload import demo_loads, run_workload

    if state.workload_done:  # ran beside the usage history's pricing
        return
    with connect(state.url) as conn:
        picked = conn.execute(sql("workload_tenants")).fetchall()
    tenants = [(r["tenant_id"], r["name"]) for r in picked]
    result = run_workload(state.url, demo_loads(tenants), mode="database", progress=say)
    plan = ", ".join(
        f"{r['name']} ({r['tier']}) {load.units} queries"
        for r, load in zip(picked, result.loads, strict=True)
    )
    state.notes.append(f"telemetry workload, one database per tenant: {plan}")


def _attribute(state: JobState, say: Callable[[str], None]) -> None:
    from datetime import UTC, datetime

    from tenantcost.attribution.ledger import attribute_period
    from tenantcost.telemetry.timeutil import current_month, hour_period

    now = datetime.now(UTC)
    with connect(state.url) as conn:
        attribute_period(conn, hour_period(now))
        say("month")
        month = attribute_period(conn, current_month(now))
    state.notes.append(
        f"attributed {month.period.key}: usage, VPS, IPs, shared shares and add-ons "
        f"({month.status}, usage basis {month.basis})"
    )


def _evaluate_tiers(state: JobState, say: Callable[[str], None]) -> None:
    import logging
    from datetime import UTC, datetime, timedelta

    from tenantcost.tiers.evaluate import evaluate_hour

    alerts_log = logging.getLogger("tenantcost.tiers")
    level = alerts_log.level
    alerts_log.setLevel(logging.ERROR)  # the summary below counts them; keep the bar clean
    now = datetime.now(UTC)
    decisions = opened = tenants = 0
    try:
        with connect(state.url) as conn:
            for back in range(EVALUATED_HOURS - 1, -1, -1):  # oldest first: signals build up
                report = evaluate_hour(conn, now - timedelta(hours=back))
                decisions += len(report.decisions)
                opened += len(report.alerts_opened)
                tenants = report.tenants or tenants
    finally:
        alerts_log.setLevel(level)
    state.notes.append(
        f"tier evaluation of the last {EVALUATED_HOURS} hours: {tenants} tenants, "
        f"{decisions} new decisions, {opened} alerts opened (tenantcost tiers decisions --active)"
    )


EVALUATED_HOURS = 4  # enough for "3 consecutive hours over the ceiling" to show
HISTORY_DAYS = 60


def sql(name: str) -> str:
    return queries("tenantcost.demo")[name]


def run_steps(steps: list[Step], console: Console) -> JobState:
    state = JobState()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("main job", total=len(steps))
        for title, step in steps:
            progress.update(task, description=title)

            def say(message: str, title: str = title) -> None:
                progress.update(task, description=f"{title}: {message}")

            started = time.perf_counter()
            step(state, say)
            state.seconds[title] = time.perf_counter() - started
            progress.advance(task)
        progress.update(task, description="done")
    return state


def run_main_job(
    *, tenants: int, seed: int, reload: bool, serve: bool, port: int, console: Console | None = None
) -> JobState:
    """Run every step, show the reports, then serve the dashboard (unless ``serve`` is off);
    returns the job's state (its notes and per-step seconds) when it does not serve."""
    console = console or Console()
    state = run_steps(
        [
            ("starting database", _start),
            ("migrating", _migrate),
            ("importing price books", _price_books),
            ("loading demo fleet", _load(tenants, seed, reload)),
            ("syncing VPS prices from Hostwinds", _sync_hostwinds),
            ("loading usage history", _history(HISTORY_DAYS)),
            ("recomputing the current month", _refresh),
            ("driving a telemetry workload", _workload),
            ("attributing usage cost", _attribute),
            ("evaluating tiers", _evaluate_tiers),
        ],
        console,
    )
    for note in state.notes:
        console.print(f"• {note}")
    console.print(f"• main job: {sum(state.seconds.values()):.1f} s", highlight=False)
    show_reports(state.url, console)
    if serve:
        from tenantcost.web.serve import ensure_demo_user, serve_forever

        serve_forever(state.url, "127.0.0.1", port, banner=ensure_demo_user(state.url))
    return state


def show_reports(url: str, console: Console) -> None:
    """What an executive would look at first; every figure read back from the database."""
    from collections import Counter

    from tenantcost.report.costs import driver_rows, tenant_cost_rows
    from tenantcost.report.reports import MONEY_PEOPLE, PCT, quantize, run_report
    from tenantcost.report.rollup import latest_period, rollup_state
    from tenantcost.tiers.store import sql as tiers_sql

    def people(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        return [
            {k: quantize(v, PCT if k.endswith("_pct") else MONEY_PEOPLE) for k, v in r.items()}
            for r in rows
        ]

    with connect(url) as conn:
        month = latest_period(conn)
        assert month is not None, "the main job attributes the current month"
        emit(
            conn.execute(sql("fleet_summary")).fetchall(), title="tenants by plan", console=console
        )
        health = Counter(r["business_health_status"] for r in run_report(conn, "health", month))
        emit(
            [{"business_health_status": k, "tenants": v} for k, v in health.most_common()],
            title=f"executive health {month} (tenantcost report health)",
            console=console,
        )
        emit(
            run_report(conn, "cost-by-plan", month, people=True),
            columns=[
                "plan_name",
                "tenant_count",
                "avg_usage_cost",
                "avg_total_cost",
                "avg_monthly_profit",
            ],
            title=f"cost by plan {month} (tenantcost report cost-by-plan)",
            console=console,
        )
        emit(
            people(
                [
                    {k: v for k, v in r.items() if k in ("driver", "amount", "share_pct")}
                    for r in driver_rows(conn, month)
                ]
            ),
            title=f"cost drivers {month} (tenantcost report cost-drivers)",
            console=console,
        )
        top = people(tenant_cost_rows(conn, month, 5))
        emit(
            top[:5],
            columns=["company_name", "plan_name", "total_cost", "revenue", "monthly_profit"],
            title=f"costliest tenants {month} (tenantcost report tenant-costs --top 5)",
            console=console,
        )
        decisions = conn.execute(tiers_sql("decisions"), {"active": True, "limit": 10}).fetchall()
        emit(
            decisions,
            columns=[
                "company_name",
                "tier",
                "signal",
                "ceiling",
                "figure",
                "ceiling_value",
                "pct_of_ceiling",
            ],
            title="active tier signals (tenantcost tiers decisions --active)",
            console=console,
        )
        console.print(rollup_state(conn, month).note(), highlight=False, markup=False)
    checks = run_all(url)
    failed = [c for c in checks if c.status == "FAIL"]
    console.print(
        f"db verify: {len(checks) - len(failed)} of {len(checks)} checks pass"
        + (f"; FAILED: {', '.join(c.check for c in failed)}" if failed else "")
    )
    console.print(
        "Figures are internal approximations for Finance and executives, never billing. "
        "Explore: tenantcost --help"
    )
