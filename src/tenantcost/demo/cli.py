"""``tenantcost demo``: load the demo fleet; ``demo run`` is the README's main job."""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console

from tenantcost.db.connect import connect
from tenantcost.demo.fleet import DemoSummary, load_demo
from tenantcost.numbers import strict_int
from tenantcost.output import OutputFormat, emit

app = typer.Typer(help="The demo fleet, and the main job that shows it.", no_args_is_help=True)
console = Console(stderr=True)

TENANTS = typer.Option(
    200,
    "--tenants",
    parser=strict_int("--tenants", 1, 1_000_000),
    help="How many tenants (companies) to generate (1 to 1,000,000).",
)
SEED = typer.Option(
    42,
    "--seed",
    parser=strict_int("--seed", 0, 2**31 - 1),
    help="Random seed: the same seed and day give the same fleet.",
)


SUMMARY_FIELDS = (
    "tenants",
    "plans",
    "subscriptions",
    "vps",
    "shared_vps",
    "ips",
    "payments",
    "analytics_rows",
)


def summary_rows(summary: DemoSummary) -> list[dict[str, object]]:
    return [{"what": name, "rows": getattr(summary, name)} for name in SUMMARY_FIELDS]


@app.command("load")
def load(
    tenants: int = TENANTS,
    seed: int = SEED,
    today: str = typer.Option(
        None, "--today", help="Pretend today is this ISO date (default: today, UTC)."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Delete the existing business rows first (destroys that data)."
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """Generate a PenguinMails-like fleet and bulk-load it (one transaction).

    Plans from Free to Enterprise, subscriptions, dedicated and shared VPS with Hostwinds
    plan ids, 1-8 IPs per VPS in mixed statuses, 12 months of payments and 365 days of
    billing analytics. Refuses to load over existing companies unless --replace.
    """
    day = date.fromisoformat(today) if today else None
    with console.status("loading demo fleet…") as status, connect() as conn:
        summary = load_demo(
            conn,
            tenants=tenants,
            seed=seed,
            today=day,
            replace=replace,
            progress=lambda msg: status.update(msg),
        )
    emit(summary_rows(summary), fmt, title="demo fleet loaded")


@app.command("run")
def run(
    tenants: int = TENANTS,
    seed: int = SEED,
    reload: bool = typer.Option(
        False, "--reload", help="Replace the demo fleet even if the database already has one."
    ),
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="End by serving the dashboard (Ctrl-C stops it)."
    ),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Dashboard port (0: any)."),
) -> None:
    """The main job: embedded database, migrations, demo fleet, Hostwinds sync, a real
    telemetry workload, attribution, tier evaluation, reports, then the dashboard.

    Safe to run again: it reuses the embedded server and the fleet already loaded, and
    prints a fresh password for the demo dashboard user.
    """
    from tenantcost.demo.main_job import run_main_job

    run_main_job(tenants=tenants, seed=seed, reload=reload, serve=serve, port=port)
