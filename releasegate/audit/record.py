"""AuditRecord: one immutable event, hash-chained per environment.

Callers build an `AuditEntry` (what happened); a store seals it into an `AuditRecord`
by giving it the next sequence number in its environment's chain and the hash of the
record before it. `verify_chain` re-derives every hash, so an edited, inserted or
deleted record is found.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from releasegate.errors import DeployFailed
from releasegate.release import Release
from releasegate.vocabulary import Decision

Kind = Literal["deploy", "rollback", "approval", "gate", "verify", "build"]
Status = Literal[
    "started",  # written before any change to a target (write-ahead)
    "succeeded",
    "failed",
    "passed",  # gate / verify
    "blocked",  # gate
    "accepted",  # approval
    "refused",  # approval that did not count, with the reason
    "rejected",  # approval: an eligible reviewer said no
    "expired",  # approval timed out / too old
]
GENESIS = "0" * 64


def utcnow() -> datetime:
    return datetime.now(UTC)


class ApprovalEntry(BaseModel):
    """One reviewer's decision as recorded: who, what, when, and the proof."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    decision: Decision
    at: datetime
    comment: str = ""
    signature: str | None = None
    key_fingerprint: str | None = None


class AuditEntry(BaseModel):
    """An event before it is sealed into the chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    kind: Kind
    environment: str
    app: str
    version: str | None = None
    artifact: str | None = None
    """The digest of what was (or was to be) deployed: `sha256:...`."""
    status: Status
    actor: str
    approvers: list[str] = []
    approvals: list[ApprovalEntry] = []
    reason: str | None = None
    previous_version: str | None = None
    operation_id: str | None = None
    """Ties the started record of a deploy/rollback to its outcome."""
    flow_run_id: str | None = None
    flow_run_url: str | None = None
    branch: str | None = None
    commit: str | None = None
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    details: dict[str, Any] = {}
    """Kind-specific facts: target state before the change, smoke results, gate rule."""


class AuditRecord(AuditEntry):
    """A sealed entry: its place in the environment's chain and its hash."""

    seq: int
    prev_hash: str
    hash: str


def release_of(change: AuditRecord) -> Release:
    """The release a recorded change deployed, digest and all."""
    try:
        return Release.model_validate(change.details["release"])
    except (KeyError, ValueError) as exc:
        raise DeployFailed(
            f"record {change.id} does not say which artifact {change.version} was"
        ) from exc


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _body(record: AuditEntry, seq: int, prev_hash: str) -> dict[str, Any]:
    body = AuditEntry.model_validate(record.model_dump(include=set(AuditEntry.model_fields)))
    return {**body.model_dump(mode="json"), "seq": seq, "prev_hash": prev_hash}


def seal(entry: AuditEntry, *, seq: int, prev_hash: str) -> AuditRecord:
    """Give `entry` its place in the chain."""
    body = _body(entry, seq, prev_hash)
    return AuditRecord.model_validate({**body, "hash": _digest(body)})


def verify_chain(records: Iterable[AuditRecord]) -> list[str]:
    """Problems in one environment's chain, oldest first; [] when it is intact.

    `records` must be the whole chain in sequence order.
    """
    problems: list[str] = []
    expected_prev, expected_seq = GENESIS, 0
    for rec in records:
        where = f"{rec.environment} #{rec.seq} ({rec.id})"
        if rec.seq != expected_seq:
            problems.append(f"{where}: expected sequence {expected_seq}: a record is missing")
        if rec.prev_hash != expected_prev:
            problems.append(f"{where}: prev_hash does not match the record before it")
        if _digest(_body(rec, rec.seq, rec.prev_hash)) != rec.hash:
            problems.append(f"{where}: content does not match its hash: the record was edited")
        expected_prev, expected_seq = rec.hash, rec.seq + 1
    return problems
