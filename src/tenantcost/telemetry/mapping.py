"""How each tenant shows up in PostgreSQL, and resolving statistics rows to tenants.

A tenant (``companies.id``) is mapped to one or more of: its own database (DynaBase's
model), its own role, its own schema, or rows in shared tables with a ``tenant_id``
column. ``pg_stat_statements`` and ``pg_stat_activity`` rows carry a database and a role,
so they resolve by database first, then role; schema and shared-table tenants are invisible
there (their queries are counted by the application tagging library instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries
from tenantcost.errors import UserError

Kind = Literal["database", "role", "schema", "shared"]
KINDS: tuple[Kind, ...] = ("database", "role", "schema", "shared")


def sql(name: str) -> str:
    return queries("tenantcost.telemetry")[name]


@dataclass(frozen=True)
class TenantMap:
    """The mapping, as lookups (pure)."""

    databases: Mapping[str, UUID] = field(default_factory=dict)
    roles: Mapping[str, UUID] = field(default_factory=dict)
    schemas: Mapping[str, UUID] = field(default_factory=dict)
    shared: frozenset[UUID] = frozenset()

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> TenantMap:
        found: dict[str, dict[str, UUID]] = {"database": {}, "role": {}, "schema": {}}
        shared: set[UUID] = set()
        for row in rows:
            if row["kind"] == "shared":
                shared.add(row["tenant_id"])
            else:
                found[row["kind"]][row["object_name"]] = row["tenant_id"]
        return cls(found["database"], found["role"], found["schema"], frozenset(shared))

    def resolve(self, database: str | None, role: str | None) -> UUID | None:
        """The tenant of a statistics row: its database's tenant, else its role's, else None."""
        if database is not None and database in self.databases:
            return self.databases[database]
        if role is not None and role in self.roles:
            return self.roles[role]
        return None

    @property
    def tenants(self) -> frozenset[UUID]:
        return frozenset(
            [*self.databases.values(), *self.roles.values(), *self.schemas.values(), *self.shared]
        )

    def __bool__(self) -> bool:
        return bool(self.tenants)


def load_map(conn: Connection) -> TenantMap:
    return TenantMap.from_rows(conn.execute(sql("mapping_all")).fetchall())


def resolve_tenant(conn: Connection, text: str) -> tuple[UUID, str]:
    """A tenant given as companies.id or as a company name (which must be unique)."""
    try:
        tenant_id = UUID(text.strip())
    except ValueError:
        tenant_id = None
    if tenant_id is not None:
        row = conn.execute(sql("company_by_id"), {"id": tenant_id}).fetchone()
        if row is None:
            raise UserError(
                f"no company with id {tenant_id}", "list companies or give the company name"
            )
        return row["id"], row["name"]
    rows = conn.execute(sql("companies_by_name"), {"name": text}).fetchall()
    exact = [r for r in rows if r["name"] == text]
    candidates = exact or rows
    if len(candidates) == 1:
        return candidates[0]["id"], candidates[0]["name"]
    if not candidates:
        raise UserError(
            f"no company named {text!r}", "give the company's exact name or its id (uuid)"
        )
    raise UserError(
        f"several companies are named {text!r}",
        "give the company's id (uuid) instead: " + ", ".join(str(r["id"]) for r in candidates[:5]),
    )


def _check_object(conn: Connection, kind: Kind, name: str) -> None:
    query = {"database": "database_exists", "role": "role_exists", "schema": "schema_exists"}[kind]
    if conn.execute(sql(query), {"name": name}).fetchone() is None:
        where = "in this database" if kind == "schema" else "on this server"
        raise UserError(
            f"there is no {kind} named {name!r} {where}",
            f"create the {kind} first, or check the spelling (names are case-sensitive)",
        )


def map_tenant(
    conn: Connection, tenant: str, kind: Kind, object_name: str | None
) -> tuple[str, UUID, str]:
    """Add one mapping; returns (outcome, tenant id, company name). One transaction."""
    if kind == "shared":
        object_name = None
    elif not object_name:
        raise UserError(f"--{kind} needs a name", f"e.g. --{kind} tenant_acme")
    with conn.transaction():
        tenant_id, company = resolve_tenant(conn, tenant)
        if object_name is not None:
            _check_object(conn, kind, object_name)
        params = {"tenant_id": tenant_id, "kind": kind, "object_name": object_name}
        existing = conn.execute(sql("mapping_for_object"), params).fetchone()
        if existing is not None:
            if existing["tenant_id"] == tenant_id:
                return "unchanged", tenant_id, company
            raise UserError(
                f"{kind} {object_name!r} is already mapped to {existing['company_name']} "
                f"({existing['tenant_id']})",
                f"unmap it first: tenantcost tenants unmap {existing['tenant_id']} --{kind} "
                f"{object_name}",
            )
        conn.execute(sql("mapping_insert"), params)
    return "mapped", tenant_id, company


def unmap_tenant(
    conn: Connection, tenant: str, kind: Kind | None, object_name: str | None
) -> list[dict[str, Any]]:
    """Remove a tenant's mappings (all, one kind, or one object); returns what was removed."""
    with conn.transaction():
        tenant_id, _company = resolve_tenant(conn, tenant)
        rows = conn.execute(
            sql("mapping_delete"),
            {"tenant_id": tenant_id, "kind": kind, "object_name": object_name},
        ).fetchall()
    return [dict(r) for r in rows]
