"""``tenantcost db verify``: the seed's migration verification, as PASS/FAIL checks.

Each check reads the catalog (not our own bookkeeping), so a constraint or index dropped
by hand shows up as FAIL. Checks of other packages (the cost model's reconciliation, Citus
placement) are composed by ``tenantcost.verification``, so this package imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tenantcost.db import migrate
from tenantcost.db.checks import CheckResult, passed
from tenantcost.db.connect import MIN_SERVER_VERSION, Connection, connect
from tenantcost.db.queries import queries

INTERNAL_ROLES = ("business_analysts", "application_service", "db_administrators")
TENANT_TABLES = (
    "companies",
    "subscriptions",
    "vps_instances",
    "smtp_ip_addresses",
    "payments",
    "billing_analytics",
)
BUSINESS_TABLES = (*TENANT_TABLES, "plans")
SEED_VIEWS = ("executive_business_summary", "business_cost_allocation")


Check = Callable[[Connection], Iterable[CheckResult]]
SCHEMA_CHECKS: list[Check] = []


def register(check: Check) -> Check:
    SCHEMA_CHECKS.append(check)
    return check


def _one(conn: Connection, query: str, **params: Any) -> dict[str, Any] | None:
    return conn.execute(queries("tenantcost.db", "verify.sql")[query], params).fetchone()


@register
def check_server(conn: Connection) -> Iterable[CheckResult]:
    version = conn.info.server_version
    yield passed("server version >= 15", version >= MIN_SERVER_VERSION, f"server_version {version}")


@register
def check_revision(conn: Connection) -> Iterable[CheckResult]:
    row = conn.execute(
        "SELECT to_regclass('tenantcost_alembic_version') IS NOT NULL AS p"
    ).fetchone()
    current = None
    if row and row["p"]:
        found = conn.execute("SELECT version_num FROM tenantcost_alembic_version").fetchone()
        current = found["version_num"] if found else None
    head = migrate.head_revision()
    yield passed("migrations at head", current == head, f"current {current or 'base'}, head {head}")


COST_COLUMNS = (("vps_instances", 8), ("smtp_ip_addresses", 6))
CITUS_IP_DEFAULT = "tenantcost_smtp_ip_monthly_cost()"


@register
def check_cost_columns(conn: Connection) -> Iterable[CheckResult]:
    for table, precision in COST_COLUMNS:
        name = f"{table}.approximate_cost"
        col = _one(conn, "column_spec", table=table, column="approximate_cost")
        if col is None:
            yield passed(f"{name} exists", False, "column missing")
            continue
        kind = f"{col['data_type']}({col['numeric_precision']},{col['numeric_scale']})"
        yield passed(
            f"{name} type",
            kind == f"numeric({precision},2)",
            f"{kind}, expected numeric({precision},2)",
        )
        default = str(col["column_default"])
        # On Citus, where smtp_ip_addresses is a reference table and cannot carry the pricing
        # trigger, new IPs take the constant from the column default instead (revision 0004).
        citus_default = table == "smtp_ip_addresses" and default == CITUS_IP_DEFAULT
        yield passed(
            f"{name} default 0.00",
            default.startswith("0.00") or citus_default,
            f"default {default}" + (" (Citus: the smtp_ip_monthly_cost constant)" * citus_default),
        )
        yield passed(
            f"{name} nullable", col["is_nullable"] == "YES", f"is_nullable {col['is_nullable']}"
        )
        comment = col["comment"] or ""
        yield passed(
            f"{name} comment",
            "Not authoritative" in comment,
            comment[:60] + "…" if comment else "none",
        )


CONSTRAINTS = (
    ("chk_vps_approximate_cost_positive", "vps_instances"),
    ("chk_smtp_approximate_cost_positive", "smtp_ip_addresses"),
)


@register
def check_constraints(conn: Connection) -> Iterable[CheckResult]:
    for name, table in CONSTRAINTS:
        row = _one(conn, "constraint_def", name=name, table=table)
        ok = bool(row and row["convalidated"] and "approximate_cost >=" in row["definition"])
        yield passed(f"constraint {name}", ok, row["definition"] if row else "missing")


INDEXES = (
    ("idx_vps_instances_approximate_cost", "(status = 'active'::text)"),
    (
        "idx_smtp_ip_addresses_approximate_cost",
        "(status = ANY (ARRAY['active'::text, 'warmed'::text, 'warming'::text]))",
    ),
)


@register
def check_indexes(conn: Connection) -> Iterable[CheckResult]:
    for name, predicate in INDEXES:
        row = _one(conn, "index_def", name=name)
        ok = bool(
            row and row["predicate"] == predicate and "(approximate_cost)" in row["definition"]
        )
        detail = f"WHERE {row['predicate']}" if row else "missing"
        yield passed(f"index {name}", ok, detail)


@register
def check_roles_and_grants(conn: Connection) -> Iterable[CheckResult]:
    for role in INTERNAL_ROLES:
        row = _one(conn, "role", role=role)
        yield passed(f"role {role}", row is not None, "present" if row else "missing")
    expectations = [("business_analysts", t, "SELECT") for t in BUSINESS_TABLES]
    expectations += [
        ("application_service", t, "SELECT,INSERT,UPDATE,DELETE") for t in TENANT_TABLES
    ]
    expectations += [
        ("db_administrators", t, "SELECT,INSERT,UPDATE,DELETE") for t in BUSINESS_TABLES
    ]
    for view in SEED_VIEWS:
        present = _one(conn, "relation_exists", name=view)
        if present and present["present"]:
            expectations += [
                ("business_analysts", view, "SELECT"),
                ("application_service", view, "SELECT"),
                ("db_administrators", view, "SELECT,INSERT,UPDATE,DELETE"),
            ]
    for role, table, privileges in expectations:
        if _one(conn, "role", role=role) is None:
            continue
        row = _one(conn, "table_privilege", role=role, table=table, privilege=privileges)
        ok = bool(row and row["granted"])
        yield passed(f"grant {privileges} on {table} to {role}", ok, "granted" if ok else "missing")


@register
def check_row_level_security(conn: Connection) -> Iterable[CheckResult]:
    wanted = {"dba_all", "internal_read_all", "tenant_isolation"}
    for table in TENANT_TABLES:
        row = _one(conn, "rls_state", table=table)
        if row is None:
            yield passed(f"RLS on {table}", False, "table missing")
            continue
        missing = wanted - set(row["policies"])
        ok = row["enabled"] and row["forced"] and not missing
        detail = f"enabled={row['enabled']} forced={row['forced']}"
        if missing:
            detail += f", missing policies: {', '.join(sorted(missing))}"
        yield passed(f"RLS on {table}", ok, detail)


@register
def check_ip_constant(conn: Connection) -> Iterable[CheckResult]:
    row = _one(conn, "ip_constant_mismatches")
    assert row is not None
    yield passed(
        "billable IPs carry the constant (unless overridden)",
        row["constant"] is not None and row["mismatched"] == 0,
        f"constant {row['constant']}, {row['mismatched']} IP(s) differ",
    )


def run_checks(url: str, checks: Iterable[Check] | None = None) -> list[CheckResult]:
    """The given checks (default: the schema's own); one that errors counts as FAIL, never a
    crash. ``tenantcost.verification`` adds the other packages' checks."""
    results: list[CheckResult] = []
    with connect(url, autocommit=True) as conn:
        for check in SCHEMA_CHECKS if checks is None else checks:
            try:
                results.extend(check(conn))
            except Exception as exc:  # a broken schema must show as FAIL, not a traceback
                results.append(CheckResult(check.__name__, "FAIL", f"error: {exc}"))
    return results
