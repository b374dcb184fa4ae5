"""The main job behind ``make run``: every step real, each shown with a progress bar."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tenantcost.db import migrate
from tenantcost.db.connect import connect, database_url, redact
from tenantcost.db.queries import queries
from tenantcost.db.verify import run_checks
from tenantcost.demo.fleet import load_demo
from tenantcost.output import emit


@dataclass
class JobState:
    url: str = ""
    notes: list[str] = field(default_factory=list)


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

            step(state, say)
            progress.advance(task)
        progress.update(task, description="done")
    return state


def run_main_job(*, tenants: int, seed: int, reload: bool) -> None:
    console = Console()
    state = run_steps(
        [
            ("starting database", _start),
            ("migrating", _migrate),
            ("importing price books", _price_books),
            ("loading demo fleet", _load(tenants, seed, reload)),
            ("syncing VPS prices from Hostwinds", _sync_hostwinds),
        ],
        console,
    )
    for note in state.notes:
        console.print(f"• {note}")
    show_reports(state.url, console)


def show_reports(url: str, console: Console) -> None:
    sql = queries("tenantcost.demo")
    with connect(url) as conn:
        emit(
            conn.execute(sql["fleet_summary"]).fetchall(), title="tenants by plan", console=console
        )
        emit(
            conn.execute(sql["resource_summary"]).fetchall(),
            title="infrastructure (monthly USD, approximate_cost)",
            console=console,
        )
    checks = run_checks(url)
    failed = [c for c in checks if c.status == "FAIL"]
    console.print(
        f"db verify: {len(checks) - len(failed)} of {len(checks)} checks pass"
        + (f"; FAILED: {', '.join(c.check for c in failed)}" if failed else "")
    )
    console.print(
        "Figures are internal approximations for Finance and executives, never billing. "
        "Explore: tenantcost --help"
    )
