"""Hostwinds sync: price every linked VPS from the Hostwinds API and store the monthly cost.

Two phases, so a Hostwinds outage can never damage stored values:

1. read the VPS rows, then ask Hostwinds for every price (no transaction held while waiting);
2. in ONE transaction, lock the rows again (``FOR UPDATE``), re-check ``cost_override`` and the
   stored value, and write only what changed: ``approximate_cost``, ``cost_source='hostwinds'``,
   ``cost_updated_at=now()``; the database's audit trigger adds one ``cost_audit`` row per change. A value that Hostwinds
   confirms unchanged but that is labelled otherwise (e.g. 'manual' after an override was
   cleared) only gets ``cost_source='hostwinds'`` (no audit row: the value did not change).

All or nothing: once Hostwinds is unavailable (retries exhausted), refuses the API key or
answers something that is not its documented shape, the remaining instances are not attempted
and NOTHING is written — not even the prices fetched before the failure — so an outage
part-way through leaves every stored value as it was (exit code 1).

Per-instance refusals keep the instance's stored value and are reported as failed while the
others are written: a price outside the plausible range (``TENANTCOST_HOSTWINDS_MIN_MONTHLY``
/ ``MAX_MONTHLY``, default $0.50 to $10,000 a month), a cycle the plan does not offer, an
unknown service, a custom configuration without ``--allow-upgrade-orders``.
Records with ``cost_override = true`` are never touched (Finance set them). A dry run does
phase 1 and compares, writing nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from tenantcost.costs.audit import audit_context, record_change, writer_audits
from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.providers.errors import (
    HostwindsAuthError,
    HostwindsError,
    HostwindsResponseError,
    HostwindsUnavailable,
)
from tenantcost.providers.hostwinds import HostwindsClient, Quote, price_instance
from tenantcost.providers.normalise import implausible

SOURCE = "hostwinds"
SYNC_REASON = "hostwinds sync"
RECONCILE_REASON = "monthly reconciliation"
#: Plausible monthly VPS prices (the settings' defaults): outside them the price is refused.
DEFAULT_BOUNDS = (Decimal("0.50"), Decimal(10000))
#: Failures of the fetch itself (not of one instance's data): the whole sync writes nothing.
FetchFailure = (HostwindsUnavailable, HostwindsAuthError, HostwindsResponseError)

Status = Literal["changed", "unchanged", "overridden", "failed"]
Progress = Callable[[int, int, str], None]

_COLUMNS = """id::text AS id, name, status, hostwinds_service_id, hostwinds_plan_id, billing_cycle,
       hostwinds_config, approximate_cost, cost_override, cost_source"""

SQL_ALL = f"""SELECT {_COLUMNS}
  FROM vps_instances
 WHERE hostwinds_service_id IS NOT NULL
 ORDER BY name NULLS LAST, id"""

SQL_ONE = f"""SELECT {_COLUMNS}
  FROM vps_instances
 WHERE id::text = %(key)s OR hostwinds_service_id = %(key)s OR name = %(key)s
 ORDER BY name NULLS LAST, id"""

SQL_UNLINKED = "SELECT count(*) AS n FROM vps_instances WHERE hostwinds_service_id IS NULL"

SQL_LOCK = """SELECT id::text AS id, approximate_cost, cost_override, cost_source
  FROM vps_instances
 WHERE id::text = ANY(%(ids)s)
 ORDER BY id
   FOR UPDATE"""

#: Same value, but it was labelled manual/NULL: Hostwinds now confirms it (no audit row).
SQL_RELABEL = """UPDATE vps_instances
   SET cost_source = 'hostwinds', cost_updated_at = now()
 WHERE id::text = %(id)s"""

SQL_UPDATE = """UPDATE vps_instances
   SET approximate_cost = %(new)s, cost_source = 'hostwinds', cost_updated_at = now()
 WHERE id::text = %(id)s"""


@dataclass
class InstanceResult:
    """The outcome for one VPS. ``old``/``new`` are monthly USD; ``new`` is None unless priced."""

    id: str
    name: str | None
    service_id: str | None
    status: Status
    old: Decimal | None
    new: Decimal | None = None
    basis: str = ""
    reason: str = ""
    relabel: bool = False  # unchanged value whose cost_source is not yet 'hostwinds'
    fetch_failure: str = ""  # set when Hostwinds itself failed (the sync then writes nothing)

    @property
    def delta(self) -> Decimal:
        if self.status != "changed" or self.new is None:
            return Decimal("0.00")
        return self.new - (self.old or Decimal("0.00"))


@dataclass
class SyncReport:
    """What a sync did (or, for a dry run, would do)."""

    results: list[InstanceResult] = field(default_factory=list)
    dry_run: bool = False
    reason: str = SYNC_REASON
    unlinked: int = 0  # VPS rows without hostwinds_service_id (not priced by Hostwinds)
    aborted: str = ""  # why nothing was written (a fetch failure), else ""

    def _with(self, status: Status) -> list[InstanceResult]:
        return [r for r in self.results if r.status == status]

    @property
    def changed(self) -> list[InstanceResult]:
        return self._with("changed")

    @property
    def unchanged(self) -> list[InstanceResult]:
        return self._with("unchanged")

    @property
    def overridden(self) -> list[InstanceResult]:
        return self._with("overridden")

    @property
    def failed(self) -> list[InstanceResult]:
        return self._with("failed")

    @property
    def total_delta(self) -> Decimal:
        return sum((r.delta for r in self.results), Decimal("0.00"))

    @property
    def ok(self) -> bool:
        return not self.failed and not self.aborted

    def summary_row(self) -> dict[str, Any]:
        return {
            "changed": len(self.changed),
            "unchanged": len(self.unchanged),
            "overridden": len(self.overridden),
            "failed": len(self.failed),
            "unlinked": self.unlinked,
            "total_monthly_delta": self.total_delta,
            "dry_run": self.dry_run,
        }

    def instance_rows(self, statuses: Sequence[Status] | None = None) -> list[dict[str, Any]]:
        return [
            {
                "id": r.id,
                "name": r.name or "",
                "service_id": r.service_id or "",
                "status": r.status,
                "old_monthly": r.old,
                "new_monthly": r.new,
                "delta": r.delta,
                "basis": r.basis,
                "reason": r.reason,
            }
            for r in self.results
            if statuses is None or r.status in statuses
        ]


def _config(value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise UserError(
            f"hostwinds_config {value!r} is not a JSON object",
            'set it to {"rid": .., "ram": .., "cpu": .., "disk": .., "bandwidth": ..} or NULL',
        )
    return value


def _load(conn: Connection, instance: str | None) -> tuple[list[dict[str, Any]], int]:
    with conn.transaction():
        if instance is None:
            rows = conn.execute(SQL_ALL).fetchall()
            unlinked = conn.execute(SQL_UNLINKED).fetchone()
            return rows, int(unlinked["n"]) if unlinked else 0
        rows = conn.execute(SQL_ONE, {"key": instance}).fetchall()
    if not rows:
        raise UserError(
            f"no VPS instance matches {instance!r}",
            "give the VPS id (uuid), its name or its hostwinds_service_id; "
            "`--all` syncs every linked instance",
        )
    if len(rows) > 1:
        ids = ", ".join(r["id"] for r in rows)
        raise UserError(f"{instance!r} matches {len(rows)} VPS instances ({ids})", "give the id")
    if rows[0]["hostwinds_service_id"] is None:
        raise UserError(
            f"VPS {rows[0]['name'] or rows[0]['id']} has no hostwinds_service_id",
            "set vps_instances.hostwinds_service_id to the Hostwinds service id first",
        )
    return rows, 0


def fetch_quotes(
    client: HostwindsClient,
    rows: Sequence[Mapping[str, Any]],
    progress: Progress | None = None,
    bounds: tuple[Decimal, Decimal] = DEFAULT_BOUNDS,
) -> list[InstanceResult]:
    """Phase 1: ask Hostwinds for every non-overridden row; no database access."""
    results: list[InstanceResult] = []
    unavailable: HostwindsError | None = None
    for done, row in enumerate(rows, 1):
        base = {
            "id": row["id"],
            "name": row["name"],
            "service_id": row["hostwinds_service_id"],
            "old": row["approximate_cost"],
        }
        label = row["name"] or row["hostwinds_service_id"]
        if row["cost_override"]:
            results.append(InstanceResult(**base, status="overridden", reason="cost_override"))
        elif unavailable is not None:
            reason = f"not attempted: {unavailable.message}"
            results.append(InstanceResult(**base, status="failed", reason=reason))
        else:
            try:
                quote: Quote = price_instance(
                    client,
                    str(row["hostwinds_service_id"]),
                    row["billing_cycle"],
                    row["hostwinds_plan_id"],
                    _config(row["hostwinds_config"]),
                )
                refused = implausible(quote.monthly, *bounds)
                if refused is not None:
                    raise UserError(
                        f"{refused} ({quote.basis}); stored value kept",
                        "check the plan and billing cycle, set a cost override, or widen "
                        "TENANTCOST_HOSTWINDS_MIN_MONTHLY / TENANTCOST_HOSTWINDS_MAX_MONTHLY",
                    )
            except FetchFailure as exc:
                unavailable = exc
                results.append(
                    InstanceResult(
                        **base, status="failed", reason=exc.message, fetch_failure=exc.message
                    )
                )
            except UserError as exc:
                results.append(InstanceResult(**base, status="failed", reason=exc.message))
            else:
                same = quote.monthly == row["approximate_cost"]
                status: Status = "unchanged" if same else "changed"
                relabel = same and row["cost_source"] != SOURCE
                results.append(
                    InstanceResult(
                        **base, status=status, new=quote.monthly, basis=quote.basis, relabel=relabel
                    )
                )
        if progress is not None:
            progress(done, len(rows), str(label))
    return results


def _write(conn: Connection, results: list[InstanceResult], reason: str) -> None:
    """Phase 2: one transaction; re-check each changed row under a lock, then write + audit."""
    pending = {r.id: r for r in results if r.status == "changed" or r.relabel}
    if not pending:
        return
    with conn.transaction():
        audit_context(conn, SOURCE, reason)
        by_writer = writer_audits(conn, "vps_instances")  # Citus: no audit trigger there
        locked = conn.execute(SQL_LOCK, {"ids": list(pending)}).fetchall()
        current = {row["id"]: row for row in locked}
        for vps_id, result in pending.items():
            row = current.get(vps_id)
            if row is None:
                result.status, result.reason = "failed", "deleted during the sync"
                continue
            if row["cost_override"]:
                result.status, result.reason = "overridden", "cost_override set during the sync"
                continue
            result.old = row["approximate_cost"]
            if result.new == result.old:
                result.status = "unchanged"
                if row["cost_source"] != SOURCE:
                    conn.execute(SQL_RELABEL, {"id": vps_id})
                    result.reason = "value confirmed by Hostwinds; cost_source set to hostwinds"
                continue
            conn.execute(SQL_UPDATE, {"id": vps_id, "new": result.new})  # audited by trigger
            if by_writer:
                record_change(conn, "vps", vps_id, str(result.old), str(result.new), SOURCE, reason)


def sync_vps(
    conn: Connection,
    client: HostwindsClient,
    instance_id: str | None = None,
    *,
    dry_run: bool = False,
    reason: str = SYNC_REASON,
    progress: Progress | None = None,
    bounds: tuple[Decimal, Decimal] = DEFAULT_BOUNDS,
) -> SyncReport:
    """Price one VPS (``instance_id``: id, name or Hostwinds service id) or all linked ones.

    Returns the report; never raises for a per-instance failure (see ``report.failed``).
    A fetch failure writes nothing at all (``report.aborted``).
    Raises UserError when ``instance_id`` matches no linked VPS.
    """
    rows, unlinked = _load(conn, instance_id)
    results = fetch_quotes(client, rows, progress, bounds)
    report = SyncReport(results=results, dry_run=dry_run, reason=reason, unlinked=unlinked)
    report.aborted = abort_reason(results)
    if report.aborted:
        for result in results:
            if result.status == "changed" or result.relabel:
                result.status, result.relabel = "failed", False
                result.reason = f"not written: {report.aborted}"
    elif not dry_run:
        _write(conn, results, reason)
    return report


def abort_reason(results: Sequence[InstanceResult]) -> str:
    """The first fetch failure (Hostwinds down, key refused, bad shape), else ""."""
    return next((r.fetch_failure for r in results if r.fetch_failure), "")


def reconcile(
    conn: Connection,
    client: HostwindsClient,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    bounds: tuple[Decimal, Decimal] = DEFAULT_BOUNDS,
) -> SyncReport:
    """The monthly re-sync of every linked VPS (audit reason 'monthly reconciliation').

    Idempotent: when Hostwinds prices did not change, a second run writes nothing.
    """
    return sync_vps(
        conn,
        client,
        None,
        dry_run=dry_run,
        reason=RECONCILE_REASON,
        progress=progress,
        bounds=bounds,
    )
