"""Histories built for the dashboard's tests: what the pipeline records, at chosen times.

`History` writes an environment's records in the order and shape `tasks/` writes them
(gates with their stage and results, approvals with a refusal code, started and outcome
records of a change, committed_at on a deploy), each at a time the test chooses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from releasegate.audit.record import GENESIS, AuditEntry, AuditRecord, seal
from tests.support.records import make_entry


@dataclass
class History:
    environment: str = "production"
    entries: list[AuditEntry] = field(default_factory=list)

    def add(self, at: datetime, run: str, **fields: Any) -> History:
        """One record of run `run`, written at `at`."""
        self.entries.append(make_entry(self.environment, started_at=at, flow_run_id=run, **fields))
        return self

    def gate(self, at: datetime, run: str, stage: str, blocked: tuple[str, ...] = ()) -> History:
        results = [{"gate": g, "passed": False, "rule": g, "reason": "test"} for g in blocked]
        results.append({"gate": "branch", "passed": True, "rule": "main", "reason": "ok"})
        status = "blocked" if blocked else "passed"
        return self.add(
            at, run, kind="gate", status=status, details={"stage": stage, "results": results}
        )

    def approval(self, at: datetime, run: str, status: str, refusal: str | None = None) -> History:
        details = {"refusal": refusal} if refusal else {}
        return self.add(at, run, kind="approval", status=status, details=details)

    def change(
        self,
        at: datetime,
        run: str,
        version: str,
        status: str = "succeeded",
        *,
        kind: str = "deploy",
        took: timedelta = timedelta(minutes=1),
        committed_at: datetime | None = None,
    ) -> History:
        """A change started `took` before `at` and ended at `at` with `status`."""
        details = {"committed_at": committed_at.isoformat()} if committed_at else {}
        op = f"op-{run}-{version}-{len(self.entries)}"
        common = {"kind": kind, "version": version, "operation_id": op, "details": details}
        self.add(at - took, run, status="started", **common)
        verified = "passed" if status == "succeeded" else "failed"
        self.add(at - took / 2, run, kind="verify", version=version, status=verified)
        return self.add(at - took, run, status=status, finished_at=at, **common)

    def records(self) -> list[AuditRecord]:
        """The entries sealed into a chain, oldest first."""
        out: list[AuditRecord] = []
        for entry in self.entries:
            prev = out[-1] if out else None
            out.append(seal(entry, seq=len(out), prev_hash=prev.hash if prev else GENESIS))
        return out
