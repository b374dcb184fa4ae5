"""The cost audit trail: every change to a cost input, with who, when, old, new and why."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries

Entity = Literal["setting", "vps", "ip"]


def _text(value: Decimal | str | None) -> str | None:
    return None if value is None else str(value)


def record_change(
    conn: Connection,
    entity: Entity,
    entity_id: object,
    old: Decimal | str | None,
    new: Decimal | str | None,
    source: str,
    reason: str,
) -> None:
    """Append one audit row inside the caller's transaction (so it commits with the change)."""
    conn.execute(
        queries("tenantcost.costs")["audit_insert"],
        {
            "entity": entity,
            "entity_id": str(entity_id),
            "old": _text(old),
            "new": _text(new),
            "source": source,
            "reason": reason,
        },
    )
