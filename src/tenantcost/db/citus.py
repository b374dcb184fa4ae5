"""``tenantcost db distribute``: where each table goes on a Citus cluster, and what stops it.

Small, rarely written tables become reference tables (a copy on every node); ``companies``
and every table keyed by tenant are distributed by tenant and co-located, so one tenant's rows
live on one shard; everything else (users, sessions, the outbox, bookkeeping) stays local on
the coordinator. The plan is read from the live catalog: a table already placed right is
skipped (idempotent), and anything Citus would refuse — or accept and then run wrongly — is a
blocker named with its fix, before a single statement runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from tenantcost.db.checks import CheckResult, passed
from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError

TENANT_COLUMN = "tenant_id"
ANCHOR = ("companies", "id")  # the tenants themselves: every tenant table co-locates with it
REFERENCE_TABLES = (
    "plans",
    "addons",
    "tiers",
    "plan_tiers",
    "cost_settings",
    "price_books",
    "telemetry_metrics",
    "tenant_cost_periods",
    "vps_instances",  # shared infrastructure: tenant_id NULL for shared hosts
    "smtp_ip_addresses",
    "tenantcost_tenant_key",  # read by the policies on every worker (revision 0023)
    # tenantcost's tables with a global key and no tenant column of their own, small (one row
    # per mapped object / per subscription): a copy on every node. A reference table keeps no
    # foreign key to a distributed one (KEYS_NOT_KEPT): `db verify` counts their orphans.
    "tenant_mapping",  # one object -> one tenant: (kind, object_name) unique across tenants
    "subscription_addons",
    "subscription_terms",
)
TENANT_TABLES = (  # distributed by tenant_id, co-located with companies
    "subscriptions",
    "payments",
    "billing_analytics",
    "tenant_signups",
    "tenant_usage_hourly",
    "tenant_usage_daily",
    "telemetry_app_events",
    "tenant_cost_hourly",
    "tenant_cost_daily",
    "tenant_cost_ledger",
    "tenant_period_figures",
    "tier_decisions",
    "tier_state",
)
APPLICATION_TABLES = ("payments", "billing_analytics")  # the application's, not tenantcost's
# tenantcost's own tables the plan distributes: their rows are no tenant's application data
# (the Citus storage share leaves them out; some hold rows of no tenant: the nil UUID).
OWN_DISTRIBUTED = tuple(t for t in TENANT_TABLES if t not in ("subscriptions", *APPLICATION_TABLES))
# Triggers the plan drops from the tables it places, because on Citus their job is done
# another way, as on an application distributed before the install: the staleness counter
# (revision 0010) — figures are recomputed by every collector pass and `report refresh`; the
# cost audit (0015) — tenantcost's own commands write their audit rows where the trigger is
# missing, and `db verify` fails on the tables whose other writers go unaudited.
# The priced-days triggers (0016): their writers mark the changed days themselves
# (usage_days_mark, app_events_ingest, the demo history). The IP pricing trigger (0004): its
# Citus form, the column default, replaces it (IP_DEFAULT_COST), as where the application was
# distributed before the install.
DROPPED_TRIGGERS = (
    "tenantcost_cost_input_change",
    "trg_vps_cost_audit",
    "trg_smtp_ip_cost_audit",
    "trg_cost_settings_audit",
    "tenantcost_usage_days_insert",
    "tenantcost_usage_days_update",
    "tenantcost_usage_days_delete",
    "trg_smtp_ip_default_cost",
)
IP_DEFAULT_COST = ("smtp_ip_addresses", "trg_smtp_ip_default_cost")
# Foreign keys from a reference table to a distributed one (Citus refuses them): the plan drops
# them and does not add them back; their cascade is gone and `db verify` counts the orphans.
KEYS_NOT_KEPT = (
    ("tenant_mapping", "companies"),
    ("subscription_addons", "subscriptions"),
    ("subscription_terms", "subscriptions"),
)
# The application's tenant policy through subscriptions (0005/0015), where the table carries
# tenant_id itself: the plan puts the Citus form (its own column, as revision 0015 installs it
# on an application distributed first) in its place.
TENANT_POLICY = "tenant_isolation"
# The Citus form of a tenant policy holding a subquery (revisions 0005/0015 install it where
# the table is a Citus table at install time): table -> (predicate, column the table must have).
CITUS_POLICIES = {
    "payments": ("tenant_id = tenantcost_current_tenant()", TENANT_COLUMN),
    "billing_analytics": ("tenant_id = tenantcost_current_tenant()", TENANT_COLUMN),
    "smtp_ip_addresses": (
        "tenant_id = tenantcost_current_tenant() OR (tenant_id IS NULL AND "
        "tenantcost_vps_tenant(vps_instance_id) = tenantcost_current_tenant())",
        "vps_instance_id",
    ),
}
# Created before the IP policy's Citus form, which calls it.
VPS_TENANT_SQL = ("vps_tenant_function", "vps_tenant_comment")
# The application's tables that revision 0026's views join to subscriptions, with the view's
# co-located form (citus.sql).
COLOCATED_VIEWS = (
    ("payments", "tenant_payments_colocated"),
    ("billing_analytics", "tenant_emails_colocated"),
)


@dataclass(frozen=True)
class Placement:
    table: str
    kind: str  # distributed | reference | local
    column: str | None = None


@dataclass(frozen=True)
class Blocker:
    table: str
    problem: str
    fix: str

    def as_row(self) -> dict[str, str]:
        return {"table": self.table, "problem": self.problem, "fix": self.fix}


@dataclass(frozen=True)
class ForeignKey:
    table: str
    name: str
    referenced_table: str
    columns: tuple[str, ...]
    referenced_columns: tuple[str, ...]
    definition: str


@dataclass(frozen=True)
class DependentView:
    """A view over a function returning ``table``'s rows (or over such a view)."""

    name: str
    table: str
    depth: int
    definition: str
    options: tuple[str, ...] = ()
    comment: str | None = None
    grants: tuple[str, ...] = ()


@dataclass
class Facts:
    """What the catalog says; the planner's only input (tests build it by hand)."""

    columns: dict[str, dict[str, bool]]  # table -> column -> nullable
    null_tenant_rows: set[str] = field(default_factory=set)
    unique_keys: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    subquery_policies: list[tuple[str, str]] = field(default_factory=list)
    triggers: list[tuple[str, str]] = field(default_factory=list)
    sql_body_functions: list[tuple[str, str]] = field(default_factory=list)
    rowtype_views: list[DependentView] = field(default_factory=list)
    placed: dict[str, Placement] = field(default_factory=dict)  # what Citus manages already
    citus_version: str | None = None


@dataclass
class Plan:
    placements: list[Placement]
    statements: list[str]
    blockers: list[Blocker]


def layout(tables: Iterable[str]) -> list[Placement]:
    """The intended placement of every table that exists, anchor first, then by kind."""
    present = set(tables)
    planned: list[Placement] = []
    if ANCHOR[0] in present:
        planned.append(Placement(ANCHOR[0], "distributed", ANCHOR[1]))
    planned += [Placement(t, "distributed", TENANT_COLUMN) for t in TENANT_TABLES if t in present]
    planned += [Placement(t, "reference") for t in REFERENCE_TABLES if t in present]
    named = {p.table for p in planned}
    planned += [Placement(t, "local") for t in sorted(present - named)]
    return planned


def _fk_blockers(fk: ForeignKey, by_table: dict[str, Placement]) -> Iterable[Blocker]:
    src, dst = by_table.get(fk.table), by_table.get(fk.referenced_table)
    if src is None or dst is None:
        return
    if src.kind == "distributed" and dst.kind == "distributed":
        aligned = (
            src.column in fk.columns
            and dst.column in fk.referenced_columns
            and fk.columns.index(src.column) == fk.referenced_columns.index(dst.column)
        )
        if not aligned:
            yield Blocker(
                fk.table,
                f"foreign key {fk.name} → {fk.referenced_table}({', '.join(fk.referenced_columns)})"
                " does not carry the tenant on both sides",
                f"reference ({src.column}, …) → {fk.referenced_table}({dst.column}, …): make "
                f"{fk.referenced_table}'s key include {dst.column}",
            )
    elif src.kind == "distributed" and dst.kind == "local":
        yield Blocker(
            fk.table,
            f"foreign key {fk.name} points at {fk.referenced_table}, which stays local",
            "Citus allows a distributed table to reference only co-located or reference tables",
        )
    elif src.kind in ("reference", "local") and dst.kind == "distributed":
        if (fk.table, fk.referenced_table) in KEYS_NOT_KEPT:
            return  # plan_statements drops it; `db verify` counts the orphans
        yield Blocker(
            fk.table,
            f"foreign key {fk.name} from a {src.kind} table to the distributed "
            f"{fk.referenced_table}",
            "Citus refuses it: drop the key or distribute this table by tenant too",
        )


def find_blockers(facts: Facts, placements: Sequence[Placement]) -> list[Blocker]:
    """Everything in the schema Citus would refuse, or accept and then run wrongly."""
    by_table = {p.table: p for p in placements}
    found: list[Blocker] = []
    for p in placements:
        placed = facts.placed.get(p.table)
        if placed is not None and placed.kind != "local" and placed != p:
            found.append(
                Blocker(
                    p.table,
                    f"already {placed.kind}"
                    + (f" by {placed.column}" if placed.column else "")
                    + f"; tenantcost expects {p.kind}"
                    + (f" by {p.column}" if p.column else ""),
                    "undistribute it (undistribute_table) or place it as expected",
                )
            )
        if p.kind != "distributed":
            continue
        assert p.column is not None
        columns = facts.columns[p.table]
        if p.column not in columns:
            owner = "the application" if p.table in APPLICATION_TABLES else "tenantcost"
            found.append(
                Blocker(
                    p.table,
                    f"has no {p.column} column",
                    f"{owner} must carry {p.column} (the owning companies.id) on every row so "
                    "Citus can keep a tenant's rows on one shard",
                )
            )
            continue
        if p.table in facts.null_tenant_rows or columns[p.column]:
            found.append(
                Blocker(
                    p.table,
                    f"has rows with {p.column} NULL (shared or idle lines)"
                    if p.table in facts.null_tenant_rows
                    else f"{p.column} allows NULL",
                    "Citus cannot place a row without a tenant: give shared rows their own "
                    f"table or a named tenant, then make {p.column} NOT NULL",
                )
            )
        for table, key, key_columns in facts.unique_keys:
            if table == p.table and p.column not in key_columns:
                found.append(
                    Blocker(
                        table,
                        f"unique key {key} ({', '.join(key_columns)}) lacks {p.column}",
                        f"add {p.column} to the key (Citus enforces uniqueness per shard)",
                    )
                )
    for fk in facts.foreign_keys:
        found.extend(_fk_blockers(fk, by_table))
    for table, policy in facts.subquery_policies:
        if (table, policy) in citus_policies(facts):
            continue  # plan_statements replaces it
        if table in by_table and by_table[table].kind != "local":
            found.append(
                Blocker(
                    table,
                    f"row-level policy {policy} holds a subquery",
                    "Citus refuses subqueries in policies on its tables: test the "
                    "row's own tenant_id against the session's tenant instead",
                )
            )
    for table, trigger in facts.triggers:
        if trigger in DROPPED_TRIGGERS:
            continue  # plan_statements drops it
        kind = by_table[table].kind if table in by_table else "local"
        if kind == "reference":
            found.append(
                Blocker(
                    table,
                    f"trigger {trigger}",
                    "Citus does not support triggers on reference tables",
                )
            )
        elif kind == "distributed":
            found.append(
                Blocker(
                    table,
                    f"trigger {trigger}",
                    "on a distributed table it would run on the workers' shards, away from the "
                    "coordinator tables it writes",
                )
            )
    for function, table in facts.sql_body_functions:
        if table in by_table and by_table[table].kind != "local":
            found.append(
                Blocker(
                    table,
                    f"the SQL-standard function {function} (BEGIN ATOMIC) depends on it",
                    "Citus reports circular dependencies between distributed objects: make it "
                    "a plpgsql or string-bodied SQL function",
                )
            )
    return found


def citus_policies(facts: Facts) -> list[tuple[str, str]]:
    """The tenant policies holding a subquery that have a Citus form (payments and
    billing_analytics where the application carries tenant_id; IPs through their VPS): the plan
    replaces them, as revisions 0005/0015 do where the table is a Citus table already."""
    return [
        (table, policy)
        for table, policy in facts.subquery_policies
        if policy == TENANT_POLICY
        and table in CITUS_POLICIES
        and CITUS_POLICIES[table][1] in facts.columns.get(table, {})
    ]


def _views_to_recreate(facts: Facts, moving: set[str]) -> list[DependentView]:
    """Each view over a moving table's row type once, shallowest first."""
    deepest: dict[str, DependentView] = {}
    for view in facts.rowtype_views:
        if view.table in moving and (
            view.name not in deepest or view.depth > deepest[view.name].depth
        ):
            deepest[view.name] = view
    return sorted(deepest.values(), key=lambda v: (v.depth, v.name))


def _create_view(view: DependentView) -> list[str]:
    options = f" WITH ({', '.join(view.options)})" if view.options else ""
    body = view.definition.strip().rstrip(";")
    out = [f"CREATE VIEW {ident(view.name)}{options} AS\n{body}"]
    if view.comment is not None:
        out.append(f"COMMENT ON VIEW {ident(view.name)} IS {literal(view.comment)}")
    out += [
        f"GRANT {grant.replace(' TO ', f' ON {ident(view.name)} TO ', 1)}" for grant in view.grants
    ]
    return out


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted identifier: the catalog's names (an application's keys among them) may need it."""
    return '"' + name.replace('"', '""') + '"'


def plan_statements(facts: Facts, placements: Sequence[Placement]) -> list[str]:
    """The SQL, in order: the staleness triggers of the tables placed and the foreign keys
    between them dropped, tables distributed (the anchor first, the rest co-located with it)
    and referenced, the keys added back."""
    moving = {p.table for p in placements if p.kind != "local" and facts.placed.get(p.table) != p}
    keys = [fk for fk in facts.foreign_keys if fk.table in moving or fk.referenced_table in moving]
    if not moving:
        return []
    # Foreign keys added to distributed tables need one connection per node in the transaction.
    out = ["SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"]
    out += [
        f"DROP TRIGGER {ident(trigger)} ON {ident(table)}"
        for table, trigger in facts.triggers
        if trigger in DROPPED_TRIGGERS and table in moving
    ]
    if IP_DEFAULT_COST in facts.triggers and IP_DEFAULT_COST[0] in moving:
        citus_sql = queries("tenantcost.db", "citus.sql")
        out += [citus_sql[name] for name in IP_DEFAULT_COST_SQL]
    for table, policy in citus_policies(facts):
        if table not in moving:
            continue
        if table == "smtp_ip_addresses":
            out += [queries("tenantcost.db", "citus.sql")[name] for name in VPS_TENANT_SQL]
        predicate = CITUS_POLICIES[table][0]
        out += [
            f"DROP POLICY {ident(policy)} ON {ident(table)}",
            f"CREATE POLICY {ident(policy)} ON {ident(table)} FOR ALL TO application_service"
            f" USING ({predicate}) WITH CHECK ({predicate})",
        ]
    views = _views_to_recreate(facts, moving)
    if views:
        out.append("DROP VIEW " + ", ".join(ident(v.name) for v in reversed(views)))
    out += [f"ALTER TABLE {ident(fk.table)} DROP CONSTRAINT {ident(fk.name)}" for fk in keys]
    for p in placements:
        if p.table not in moving:
            continue
        if p.kind == "reference":
            out.append(f"SELECT create_reference_table('{p.table}')")
        elif p.table == ANCHOR[0]:
            out.append(f"SELECT create_distributed_table('{p.table}', '{p.column}')")
        else:
            out.append(
                f"SELECT create_distributed_table('{p.table}', '{p.column}', "
                f"colocate_with => '{ANCHOR[0]}')"
            )
    out += [
        f"ALTER TABLE {ident(fk.table)} ADD CONSTRAINT {ident(fk.name)} {fk.definition}"
        for fk in keys
        if (fk.table, fk.referenced_table) not in KEYS_NOT_KEPT
    ]
    for view in views:
        out += _create_view(view)
    # revision 0026's views chose their join while the tables were local: the tenant too now
    by_tenant = {p.table for p in placements if p.table in moving and p.column == "tenant_id"}
    subscriptions = facts.placed.get("subscriptions")
    if "subscriptions" in by_tenant or (subscriptions and subscriptions.column == "tenant_id"):
        out += [
            queries("tenantcost.db", "citus.sql")[query]
            for table, query in COLOCATED_VIEWS
            if table in by_tenant
        ]
    return out


# The IP pricing trigger's Citus form (revision 0004 on an application distributed first),
# in order: the constant as a function, the column defaults, the trigger function dropped.
IP_DEFAULT_COST_SQL = (
    "ip_cost_function",
    "ip_cost_comment",
    "ip_cost_defaults",
    "ip_cost_trigger_function_drop",
)


def _rows(conn: Connection, name: str) -> list[dict[str, Any]]:
    return conn.execute(queries("tenantcost.db", "citus.sql")[name]).fetchall()


def read_version(conn: Connection) -> str | None:
    row = conn.execute(queries("tenantcost.db", "citus.sql")["citus_version"]).fetchone()
    return str(row["extversion"]) if row else None


def _columns(conn: Connection) -> dict[str, dict[str, bool]]:
    """table -> column -> nullable, for the current schema's tables."""
    columns: dict[str, dict[str, bool]] = {}
    for row in _rows(conn, "table_columns"):
        columns.setdefault(row["table_name"], {})[row["column_name"]] = row["nullable"]
    return columns


def _placed(rows: Iterable[dict[str, Any]]) -> dict[str, Placement]:
    """What Citus manages, from ``distributed_tables`` rows."""
    return {
        r["table_name"]: Placement(r["table_name"], r["placement"], r["column_name"]) for r in rows
    }


def read_facts(conn: Connection) -> Facts:
    columns = _columns(conn)
    facts = Facts(
        columns=columns,
        unique_keys=[
            (r["table_name"], r["key_name"], tuple(r["columns"]))
            for r in _rows(conn, "unique_keys")
        ],
        foreign_keys=[
            ForeignKey(
                r["table_name"],
                r["key_name"],
                r["referenced_table"],
                tuple(r["columns"]),
                tuple(r["referenced_columns"]),
                r["definition"],
            )
            for r in _rows(conn, "foreign_keys")
        ],
        subquery_policies=[
            (r["table_name"], r["policy_name"]) for r in _rows(conn, "policies_with_subqueries")
        ],
        triggers=[(r["table_name"], r["trigger_name"]) for r in _rows(conn, "user_triggers")],
        sql_body_functions=[
            (r["function_name"], r["table_name"]) for r in _rows(conn, "sql_body_functions")
        ],
        rowtype_views=[
            DependentView(
                r["view_name"],
                r["table_name"],
                r["depth"],
                r["definition"],
                tuple(r["options"]),
                r["comment"],
                tuple(r["grants"]),
            )
            for r in _rows(conn, "rowtype_views")
        ],
        citus_version=read_version(conn),
    )
    if facts.citus_version:
        facts.placed = _placed(_rows(conn, "distributed_tables"))
    for p in layout(columns):
        if p.kind == "distributed" and columns[p.table].get(p.column or "", False):
            query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} IS NULL) AS found").format(
                sql.Identifier(p.table), sql.Identifier(p.column or "")
            )
            nulls = conn.execute(query).fetchone()
            if nulls and nulls["found"]:
                facts.null_tenant_rows.add(p.table)
    return facts


def plan(facts: Facts) -> Plan:
    placements = layout(facts.columns)
    return Plan(placements, plan_statements(facts, placements), find_blockers(facts, placements))


def apply(conn: Connection, statements: Sequence[str]) -> None:
    """Every statement in one transaction: a failure leaves nothing distributed."""
    try:
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)
    except psycopg.Error as exc:
        detail = exc.diag.message_primary or str(exc).strip().splitlines()[0]
        raise UserError(
            f"db distribute failed and was rolled back, nothing changed: {detail}",
            "fix the cause and run it again; `tenantcost db distribute --dry-run` prints the SQL",
        ) from exc


def check_placement(conn: Connection) -> Iterable[CheckResult]:
    """`db verify` on Citus: every planned table placed as planned, tenant tables co-located."""
    if read_version(conn) is None:
        yield CheckResult("Citus placement", "SKIP", "citus not installed (one PostgreSQL)")
        return
    rows = _rows(conn, "distributed_tables")
    placed = _placed(rows)
    columns = _columns(conn)
    wanted = [p for p in layout(columns) if p.kind != "local"]
    if not any(p.table in placed for p in wanted):
        yield CheckResult(
            "Citus placement", "SKIP", "tables still local on the coordinator: `db distribute`"
        )
        return
    for p in wanted:
        got = placed.get(p.table)
        detail = (
            f"{got.kind} by {got.column}" if got and got.column else (got.kind if got else "local")
        )
        yield passed(f"Citus: {p.table} {p.kind}", got == p, detail)
    planned = {p.table for p in wanted}
    keyed = sorted(t for t, cols in columns.items() if TENANT_COLUMN in cols and t not in planned)
    stray = [t for t in keyed if placed.get(t) != Placement(t, "distributed", TENANT_COLUMN)]
    yield passed(
        "Citus: every table keyed by tenant_id distributed",
        not stray,
        f"local: {', '.join(stray)}" if stray else f"{len(keyed)} more beyond tenantcost's",
    )
    groups = {r["colocation_id"] for r in rows if r["placement"] == "distributed"}
    yield passed(
        "Citus: tenant tables co-located", len(groups) <= 1, f"{len(groups)} co-location group(s)"
    )


def check_install(conn: Connection) -> Iterable[CheckResult]:
    """`db verify` on Citus: what an application distributed before tenantcost cannot keep by
    itself — cascades to tenantcost's coordinator tables, and audit triggers on reference tables.
    On plain PostgreSQL only the orphans, and only where the application keys subscriptions by
    (tenant_id, id), so that no foreign key (and cascade) can reference subscriptions(id)."""
    on_citus = read_version(conn) is not None
    if not on_citus and not any(r["missing"] for r in _rows(conn, "subscription_keys_missing")):
        return
    orphans = {r["table_name"]: r["orphans"] for r in _rows(conn, "orphaned_rows")}
    left = {t: n for t, n in orphans.items() if n}
    yield passed(
        "Citus: no orphaned rows" if on_citus else "no orphaned rows (no key to subscriptions)",
        not left,
        "; ".join(f"{t}: {n} row(s) whose company/subscription is gone" for t, n in left.items())
        + " (delete them: no foreign key cascades to them from the application's tables)"
        if left
        else f"{', '.join(orphans)}: none",
    )
    if not on_citus:
        return
    unaudited = [r["table_name"] for r in _rows(conn, "unaudited_cost_tables")]
    yield passed(
        "Citus: cost changes audited",
        not unaudited,
        f"no audit trigger on reference table(s) {', '.join(unaudited)}: tenantcost's own "
        "commands audit their changes, any other writer's leave no cost_audit row "
        "(docs/citus.md)"
        if unaudited
        else "audit triggers present",
    )
