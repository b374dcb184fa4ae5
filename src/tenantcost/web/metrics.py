"""``/metrics`` in the Prometheus text exposition format (version 0.0.4), written by hand."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: Decimal | float | int | None) -> str:
    if value is None:
        return "NaN"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, Decimal):
        from tenantcost.web.render import decimal_text

        return decimal_text(value)
    return str(value)


def family(
    name: str,
    help_text: str,
    kind: str,
    samples: Iterable[tuple[Mapping[str, str], Decimal | float | int | None]],
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        lines.append(
            f"{name}{{{label_text}}} {_number(value)}" if label_text else f"{name} {_number(value)}"
        )
    return lines


def render(
    plans: Iterable[Mapping[str, Any]],
    jobs: Mapping[str, Mapping[str, Any]],
    *,
    collector_configured: bool,
    rollup_age_seconds: float | None,
    now: float,
    outbox: Iterable[Mapping[str, Any]] = (),
    cache: Mapping[str, int] | None = None,
) -> str:
    """Per-plan cost/revenue/margin/tenants, rollup age, each job's runs, errors, lag, and
    the outbox backlog per sink (rows of ``tenantcost.outbox.backlog``)."""
    plans = list(plans)
    lines: list[str] = []
    per_plan = (
        ("tenantcost_plan_tenants", "Tenants with an active subscription, per plan.", "tenants"),
        (
            "tenantcost_plan_monthly_revenue_usd",
            "Revenue of the latest month (plan after discounts + add-ons), USD.",
            "revenue",
        ),
        (
            "tenantcost_plan_monthly_cost_usd",
            "Full cost of the latest month (VPS, IPs, shared shares, usage, add-ons, overhead), USD.",
            "cost",
        ),
        (
            "tenantcost_plan_gross_margin_percent",
            "(revenue - cost) / revenue x 100; NaN without revenue.",
            "margin_pct",
        ),
    )
    for name, text, key in per_plan:
        lines += family(
            name, text, "gauge", (({"plan": str(p["plan_name"])}, p[key]) for p in plans)
        )
    lines += family(
        "tenantcost_rollup_age_seconds",
        "Seconds since the BI rollups were refreshed.",
        "gauge",
        [({}, rollup_age_seconds)],
    )
    lines += family(
        "tenantcost_collector_configured",
        "1 when a telemetry collector runs in this process's schedule, else 0.",
        "gauge",
        [({}, 1 if collector_configured else 0)],
    )
    lines += family(
        "tenantcost_job_runs_total",
        "Runs of each scheduled job.",
        "counter",
        (({"job": j}, s["runs"]) for j, s in jobs.items()),
    )
    lines += family(
        "tenantcost_job_errors_total",
        "Failed runs of each scheduled job.",
        "counter",
        (({"job": j}, s["errors"]) for j, s in jobs.items()),
    )
    lines += family(
        "tenantcost_job_lag_seconds",
        "Seconds since each job last succeeded (NaN: never).",
        "gauge",
        (
            ({"job": j}, None if s["last_success"] is None else round(now - s["last_success"], 3))
            for j, s in jobs.items()
        ),
    )
    lines += outbox_families(outbox)
    lines += cache_families(cache or {})
    return "\n".join(lines) + "\n"


CACHE_FAMILIES = (
    ("hits", "counter", "Dashboard requests for page data served from this process's cache."),
    ("misses", "counter", "Dashboard requests for page data the cache did not hold."),
    ("computes", "counter", "Page data (or a rendered page part) computed from the database."),
    ("evictions", "counter", "Cache entries dropped to stay within the cache's bounds."),
    ("invalidations", "counter", "Times a refresh or a cost-input change emptied the cache."),
    ("entries", "gauge", "Entries the cache holds now."),
    ("bytes", "gauge", "Estimated bytes the cache holds now."),
)


def cache_families(stats: Mapping[str, int]) -> list[str]:
    """The page cache's counters (``tenantcost.web.cache.CacheStats``), this process only."""
    lines: list[str] = []
    for key, kind, text in CACHE_FAMILIES:
        if key in stats:
            name = f"tenantcost_web_cache_{key}" + ("_total" if kind == "counter" else "")
            lines += family(name, text, kind, [({}, stats[key])])
    return lines


def outbox_families(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Events waiting per sink, given up, the oldest one's age, failed attempts so far."""
    rows = list(rows)
    lines: list[str] = []
    for name, text, kind, key in (
        (
            "tenantcost_outbox_pending",
            "Outbox events not delivered yet (including given up), per sink.",
            "gauge",
            "pending",
        ),
        (
            "tenantcost_outbox_given_up",
            "Outbox events whose sink gave up after its last attempt (outbox retry).",
            "gauge",
            "given_up",
        ),
        (
            "tenantcost_outbox_oldest_pending_seconds",
            "Age of the oldest undelivered outbox event, per sink (NaN: none).",
            "gauge",
            "oldest_pending_seconds",
        ),
        (
            "tenantcost_outbox_failed_total",
            "Failed outbox delivery attempts so far, per sink.",
            "counter",
            "failed_attempts",
        ),
    ):
        lines += family(name, text, kind, (({"sink": str(r["sink"])}, r[key]) for r in rows))
    return lines
