"""``tenantcost report``: the executive reports over the one cost model, and refreshing it."""

from __future__ import annotations

import typer
from rich.console import Console

from tenantcost.cli_options import FORMAT, MONTH
from tenantcost.output import OutputFormat, emit

# The database side (psycopg, the report queries) is imported where a command runs, so that
# `tenantcost report --help` stays a help screen's cost.

app = typer.Typer(
    help=(
        "Executive reports over the one cost model: health, optimization, cost by plan, cost "
        "per email, shared cost, tenant costs, cost drivers, attribution quality. Every figure "
        "is the month's full cost (VPS, IPs, shared shares, usage, add-ons, overhead). Internal "
        "approximations for Finance and executives, never billing."
    ),
    no_args_is_help=True,
)
console = Console(stderr=True)


def _show(name: str, fmt: OutputFormat, month: str | None) -> None:
    from tenantcost.db.connect import connect
    from tenantcost.report.reports import REPORTS, run_report
    from tenantcost.report.rollup import resolve_month, rollup_state

    report = REPORTS[name]
    people = fmt is OutputFormat.table
    with connect() as conn:
        period = resolve_month(conn, month)
        rows = run_report(conn, name, period, people=people)
        state = rollup_state(conn, period)
    columns = report.columns
    if people and "tenant_id" in columns:
        columns = tuple(c for c in columns if c != "tenant_id")  # people read company names
    emit(
        rows,
        fmt,
        columns=columns,
        title=f"{report.title} — {period}",
        places=report.places(people=people),
    )
    console.print(  # stderr: which month, provisional or final, stale or not
        state.note(), highlight=False, markup=False, soft_wrap=True
    )


@app.command()
def health(month: str | None = MONTH, fmt: OutputFormat = FORMAT) -> None:
    """Daily executive health check: every tenant's health, margin and profit, best first."""
    _show("health", fmt, month)


@app.command()
def optimization(month: str | None = MONTH, fmt: OutputFormat = FORMAT) -> None:
    """Cost optimization opportunities: tenants not Excellent, by revenue x 2 - cost.
    Categories by cost_efficiency_score: < 50 High, < 75 Moderate, else Well Optimized."""
    _show("optimization", fmt, month)


@app.command("cost-by-plan")
def cost_by_plan(month: str | None = MONTH, fmt: OutputFormat = FORMAT) -> None:
    """Monthly cost analysis by plan: tenant count and average cost, profit, efficiency."""
    _show("cost-by-plan", fmt, month)


@app.command("cost-per-email")
def cost_per_email(month: str | None = MONTH, fmt: OutputFormat = FORMAT) -> None:
    """Cost per email sent in the month, cheapest first (tenants that sent email only).
    Categories: < 0.01 Highly Efficient, < 0.02 Efficient, < 0.05 Moderate, else Needs
    Optimization (USD per email)."""
    _show("cost-per-email", fmt, month)


@app.command()
def shared(month: str | None = MONTH, fmt: OutputFormat = FORMAT) -> None:
    """Fixed cost charged to no tenant: unallocated shared VPS/IPs, and resources of companies
    without an active subscription. With the tenants' costs it sums to the whole fleet."""
    _show("shared", fmt, month)


@app.command()
def refresh() -> None:
    """Recompute the current month's ledger and figures from what is priced (and close months
    past their closing time). Collect, attribute, cost syncs and setting changes do it too."""
    from tenantcost.db.connect import connect
    from tenantcost.report.rollup import refresh_rollups

    with connect() as conn:
        result = refresh_rollups(conn)
    state = result.state
    console.print(
        f"refreshed {state.period} in {result.seconds:.2f} s: {state.tenants} tenant(s), "
        f"shared_cost_allocation={state.allocation_rule}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
