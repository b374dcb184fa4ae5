"""What a ``db verify`` check returns: kept apart from ``db.verify`` so feature packages
(``report.reconcile``) can produce checks without importing the runner that calls them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: str  # PASS | FAIL | SKIP
    detail: str

    def as_row(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status, "detail": self.detail}


def passed(check: str, ok: bool, detail: str) -> CheckResult:
    return CheckResult(check, "PASS" if ok else "FAIL", detail)
