"""What an environment's audit trail says happened, one observation at a time.

`Observer` reads one environment's records **oldest first** (as `store.chain` gives them)
and turns them into the facts the dashboard counts: changes and their outcomes, failed
changes, restores, approval waits, gate blocks, approval decisions. It keeps only what a
later record may complete (the change that is live, a failure not yet restored, runs
waiting for approval), never the records, so a trail of any length is read in bounded
memory. The report (`policy/figures.py`) and the Prometheus metrics share it, so they
cannot disagree.

The rules, as the README states them:

* a **change** is a deploy that reached an outcome; it **failed** if that outcome is
  `failed` (its rollout or its verify failed) or if a rollback of the environment started
  before the next deploy;
* a failure is **restored** by the next successful rollback or deploy; the time counts
  from the failed change's outcome (for a change rolled back after it had succeeded: from
  when it went live, so an upper bound on the outage);
* the **approval wait** of a run runs from its gates passing "before approvals" (the
  request is made right then) to the last approval it counted, closed by the run's next
  record after its approvals;
* **lead time**: from the commit (`details.committed_at` of the deploy, as the push said)
  to the deploy's successful outcome.

Observations are NamedTuples, not pydantic models: one or more per record, at 100,000
records they must cost next to nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from releasegate.audit.record import AuditRecord

MAX_WAITING = 1000
"""Runs waiting for approval followed at once; beyond that the oldest is forgotten (a run
that crashed while waiting would otherwise be followed for ever)."""
APPROVAL_STAGE = "before approvals"
"""The gate check whose passing starts the approval wait (tasks/gates.py `stage`)."""


class ChangeDone(NamedTuple):
    """A deploy or rollback reached an outcome (`succeeded`, `failed`, or any other)."""

    at: datetime
    kind: str
    outcome: str
    version: str | None
    lead_time: timedelta | None
    """Deploys that succeeded and say when their commit was made."""


class ChangeFailed(NamedTuple):
    """A deploy counted as a failed change; `at` is the change's own time."""

    at: datetime
    version: str | None
    cause: str
    """`failed` (its outcome) or `rolled back`."""


class Restored(NamedTuple):
    at: datetime
    took: timedelta


class ApprovalWaited(NamedTuple):
    at: datetime
    took: timedelta


class ApprovalDecided(NamedTuple):
    at: datetime
    status: str
    """accepted, refused, rejected or expired."""
    reason: str | None
    """Why a refused decision did not count (its refusal code), else None."""


class GateBlocked(NamedTuple):
    at: datetime
    gate: str


class Recorded(NamedTuple):
    """A record of a kind the observer does not otherwise read (a quarantine), or a gate
    let through by a break-glass override (kind `override`)."""

    at: datetime
    kind: str
    status: str


Observation = (
    ChangeDone | ChangeFailed | Restored | ApprovalWaited | ApprovalDecided | GateBlocked | Recorded
)
CHANGE_KINDS = ("deploy", "rollback")


class _Live(NamedTuple):
    at: datetime
    version: str | None


class Observer:
    """One environment's records in, observations out (see the module docstring)."""

    def __init__(self) -> None:
        self.live: _Live | None = None
        """The last successful deploy, until the next deploy or a rollback."""
        self.failing_since: datetime | None = None
        """When the failure not yet restored began."""
        self.waiting: dict[str, tuple[datetime, datetime | None]] = {}
        """flow run id -> (asked at, last approval counted)."""
        self.last_success: datetime | None = None
        """When the environment last changed successfully (deploy or rollback)."""
        self.first: datetime | None = None
        """When the first record read was written."""
        self.overridden: str | None = None
        """The flow run of the last break-glass override counted."""

    def feed(self, rec: AuditRecord) -> list[Observation]:
        """What `rec`, the next record of the chain, adds."""
        at = rec.finished_at or rec.started_at
        if self.first is None:
            self.first = at
        found: list[Observation] = []
        run = rec.flow_run_id
        if run in self.waiting and rec.kind != "approval" and not _asks(rec):
            asked, last = self.waiting.pop(run)
            if last is not None:
                found.append(ApprovalWaited(last, last - asked))
        if rec.kind in CHANGE_KINDS:
            self._change(rec, at, found)
        elif rec.kind == "approval":
            self._approval(rec, at, found)
        elif rec.kind == "gate":
            self._gate(rec, at, found)
        elif rec.kind not in ("verify", "build"):
            found.append(Recorded(at, rec.kind, rec.status))
        return found

    def _change(self, rec: AuditRecord, at: datetime, found: list[Observation]) -> None:
        if rec.status == "started":
            if rec.kind == "rollback" and self.live is not None:
                # Someone (or the pipeline) decided the live change was bad.
                found.append(ChangeFailed(self.live.at, self.live.version, "rolled back"))
                self.failing_since = self.failing_since or self.live.at
                self.live = None
            return
        lead = None
        if rec.kind == "deploy" and rec.status == "succeeded":
            lead = _lead_time(rec.details, at)
        found.append(ChangeDone(at, rec.kind, rec.status, rec.version, lead))
        if rec.status == "succeeded":
            if self.failing_since is not None:
                found.append(Restored(at, at - self.failing_since))
                self.failing_since = None
            self.live = _Live(at, rec.version) if rec.kind == "deploy" else None
            self.last_success = at
        elif rec.kind == "deploy" and rec.status == "failed":
            found.append(ChangeFailed(at, rec.version, "failed"))
            self.failing_since = self.failing_since or at
            self.live = None

    def _approval(self, rec: AuditRecord, at: datetime, found: list[Observation]) -> None:
        reason = None
        if rec.status == "refused":
            reason = str(rec.details.get("refusal") or "unknown")
        found.append(ApprovalDecided(at, rec.status, reason))
        run = rec.flow_run_id
        if rec.status == "accepted" and run in self.waiting:
            self.waiting[run] = (self.waiting[run][0], at)

    def _gate(self, rec: AuditRecord, at: datetime, found: list[Observation]) -> None:
        if rec.status == "overridden" and rec.flow_run_id != self.overridden:
            # A freeze let through by break-glass: once per run, however many checks it
            # passed so (before approvals, before the rollout).
            self.overridden = rec.flow_run_id
            found.append(Recorded(at, "override", rec.status))
        if rec.status == "blocked":
            names = [r.get("gate") for r in _results(rec.details) if r.get("passed") is False]
            found.extend(GateBlocked(at, str(name or "unknown")) for name in names or [None])
        elif _asks(rec) and rec.flow_run_id is not None:
            if len(self.waiting) >= MAX_WAITING:
                del self.waiting[next(iter(self.waiting))]
            self.waiting[rec.flow_run_id] = (at, None)


def quarantines(records: Iterable[AuditRecord], environment: str) -> Iterator[Recorded]:
    """The quarantines of `environment` among `records`, the quarantine chain's (which
    holds every environment's, `policy.quarantine`); a release is not one."""
    for rec in records:
        if rec.status == "quarantined" and rec.details.get("environment") == environment:
            yield Recorded(rec.finished_at or rec.started_at, "quarantine", rec.status)


def _asks(rec: AuditRecord) -> bool:
    """Whether `rec` is the gate check after which approvals are requested."""
    return rec.kind == "gate" and rec.details.get("stage") == APPROVAL_STAGE


def _results(details: dict[str, Any]) -> list[dict[str, Any]]:
    results = details.get("results")
    return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []


def _lead_time(details: dict[str, Any], live_at: datetime) -> timedelta | None:
    """From the commit to `live_at`, if the deploy says when its commit was made."""
    raw = details.get("committed_at")
    if not isinstance(raw, str):
        return None
    try:
        committed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if committed.tzinfo is None or committed > live_at:
        return None  # a time without a zone, or after the deploy, cannot be right: not guessed
    return live_at - committed
