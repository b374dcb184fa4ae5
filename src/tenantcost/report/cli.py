"""``tenantcost report``: the executive dashboard reports, and refreshing their rollups."""

from __future__ import annotations

import typer
from rich.console import Console

from tenantcost.db.connect import connect
from tenantcost.output import OutputFormat, emit
from tenantcost.report.reports import REPORTS, run_report
from tenantcost.report.rollup import refresh_rollups, rollup_state

app = typer.Typer(
    help=(
        "Executive reports: health, optimization, cost by plan, cost per email, shared cost. "
        "Internal approximations for Finance and executives, never billing."
    ),
    no_args_is_help=True,
)
console = Console(stderr=True)

FORMAT = typer.Option(OutputFormat.table, "--format", help="table, json or csv.")
LIVE = typer.Option(
    False,
    "--live",
    help="Compute from the plain views now instead of reading the materialized rollups "
    "(slower; always current).",
)


def _show(name: str, fmt: OutputFormat, live: bool) -> None:
    report = REPORTS[name]
    with connect() as conn:
        rows = run_report(conn, name, live=live)
        if live:
            source = "live views"
        else:
            state = rollup_state(conn)
            source = f"rollups refreshed {state.refreshed_at:%Y-%m-%d %H:%M:%S %Z}"
            if state.rule_changed:
                console.print(
                    f"[yellow]note: rollups use shared_cost_allocation={state.allocation_rule}, "
                    f"now {state.current_rule}; run `tenantcost report refresh`[/]"
                )
    columns = report.columns
    if fmt is OutputFormat.table and "tenant_id" in columns:
        columns = tuple(c for c in columns if c != "tenant_id")  # people read company names
    emit(rows, fmt, columns=columns, title=f"{report.title} ({source})", places=report.places)


@app.command()
def health(fmt: OutputFormat = FORMAT, live: bool = LIVE) -> None:
    """Daily executive health check: every tenant's health, margin and profit, best first."""
    _show("health", fmt, live)


@app.command()
def optimization(fmt: OutputFormat = FORMAT, live: bool = LIVE) -> None:
    """Cost optimization opportunities: tenants not Excellent, by revenue x 2 - cost.

    Categories by cost_efficiency_score: < 50 High, < 75 Moderate, else Well Optimized.
    """
    _show("optimization", fmt, live)


@app.command("cost-by-plan")
def cost_by_plan(fmt: OutputFormat = FORMAT, live: bool = LIVE) -> None:
    """Monthly cost analysis by plan: tenant count and average cost, profit, efficiency."""
    _show("cost-by-plan", fmt, live)


@app.command("cost-per-email")
def cost_per_email(fmt: OutputFormat = FORMAT, live: bool = LIVE) -> None:
    """Cost per email sent in the last 30 days, cheapest first (tenants with email only).

    Categories: < 0.01 Highly Efficient, < 0.02 Efficient, < 0.05 Moderate, else Needs
    Optimization (USD per email).
    """
    _show("cost-per-email", fmt, live)


@app.command()
def shared(fmt: OutputFormat = FORMAT, live: bool = LIVE) -> None:
    """Cost charged to no tenant: unallocated shared VPS/IPs, and resources of companies
    without an active subscription. With the tenants' costs it sums to the whole fleet."""
    _show("shared", fmt, live)


@app.command()
def refresh() -> None:
    """Refresh the materialized rollups the reports read (concurrently; readers never wait).

    Run it after changing costs or the shared_cost_allocation setting; cost syncs do it too.
    """
    with connect() as conn:
        result = refresh_rollups(conn)
    state = result.state
    console.print(
        f"refreshed rollups in {result.seconds:.2f} s: {state.tenants} tenant(s), "
        f"shared_cost_allocation={state.allocation_rule}"
    )
