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

M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


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


def a_week(t0: datetime) -> History:
    """A week of production from `t0`, every figure's case once (the comments give the
    answers; tests/policy/test_figures.py checks them)."""
    h = History()
    # r1: asked at t0, alice after 10m, eve refused (not a member), bob after 30m: waited 30m;
    # committed an hour before it was asked, live at t0+33m: lead time 1h33m.
    h.gate(t0, "r1", "before approvals")
    h.approval(t0 + 10 * M, "r1", "accepted")
    h.approval(t0 + 12 * M, "r1", "refused", refusal="not-member")
    h.approval(t0 + 30 * M, "r1", "accepted")
    h.gate(t0 + 31 * M, "r1", "before rollout")
    h.change(t0 + 33 * M, "r1", "v1", committed_at=t0 - H)
    # r2: blocked by the freeze gate.
    h.gate(t0 + D, "r2", "before approvals", blocked=("freeze",))
    # r3: waited 1h; no commit time; rolled back by hand 1h59m after it went live.
    h.gate(t0 + 2 * D, "r3", "before approvals")
    h.approval(t0 + 2 * D + 5 * M, "r3", "accepted")
    h.approval(t0 + 2 * D + H, "r3", "accepted")
    h.change(t0 + 2 * D + H + 2 * M, "r3", "v2")
    h.change(t0 + 2 * D + 3 * H + M, "r4", "v1", kind="rollback")
    # r5: v3 fails its verify; the automatic rollback restores v1 2 minutes later.
    h.change(t0 + 3 * D, "r5", "v3", "failed")
    h.change(t0 + 3 * D + 2 * M, "r5", "v1", kind="rollback")
    # r6: committed 30 minutes before going live.
    h.change(t0 + 4 * D, "r6", "v4", committed_at=t0 + 4 * D - 30 * M)
    # r7: v5 fails and nothing restores it.
    h.change(t0 + 5 * D, "r7", "v5", "failed")
    return h
