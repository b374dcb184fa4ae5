"""The cost audit trail: every change to a cost input, with who, when, old, new and why.

The rows are written by the database (revision 0015's ``tenantcost_audit_cost_change``
trigger on ``vps_instances``, ``smtp_ip_addresses`` and ``cost_settings``), so a change made
by any role or path is audited exactly once. tenantcost's own commands only say why: they
set ``tenantcost.audit_source`` and ``tenantcost.audit_reason`` for their transaction
(``SET LOCAL``); a change made without them is recorded with source ``sql``.

On Citus, where ``vps_instances`` / ``smtp_ip_addresses`` (the application's) or
``cost_settings`` (``db distribute``) are reference tables, no trigger can exist on them:
there tenantcost's own commands write the audit rows of their changes themselves
(``writer_audits``); changes made by anything else are not audited, and ``db verify`` says so.
"""

from __future__ import annotations

from tenantcost.db.connect import Connection
from tenantcost.db.queries import queries


def audit_context(conn: Connection, source: str, reason: str) -> None:
    """Label the cost changes of the caller's open transaction (until it ends)."""
    conn.execute(queries("tenantcost.costs")["audit_context"], {"source": source, "reason": reason})


def record_change(
    conn: Connection,
    entity: str,
    entity_id: str,
    old_value: str | None,
    new_value: str | None,
    source: str,
    reason: str,
) -> None:
    """One audit row for a change no trigger sees (a tier's price or ceilings)."""
    conn.execute(
        queries("tenantcost.costs")["audit_insert"],
        {
            "entity": entity,
            "entity_id": entity_id,
            "old_value": old_value,
            "new_value": new_value,
            "source": source,
            "reason": reason,
        },
    )


AUDIT_TRIGGERS = {
    "vps_instances": "trg_vps_cost_audit",
    "smtp_ip_addresses": "trg_smtp_ip_cost_audit",
    "cost_settings": "trg_cost_settings_audit",
}


def trigger_missing(conn: Connection, table: str, trigger: str) -> bool:
    """True on Citus when ``trigger`` could not be created on the reference table ``table``."""
    row = conn.execute(
        queries("tenantcost.costs")["trigger_missing"], {"table": table, "trigger": trigger}
    ).fetchone()
    return bool(row and row["missing"])


def writer_audits(conn: Connection, table: str) -> bool:
    """True when tenantcost must write the audit rows of its own changes to ``table``."""
    return trigger_missing(conn, table, AUDIT_TRIGGERS[table])
