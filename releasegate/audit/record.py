"""AuditRecord: one immutable event, hash-chained per environment.

Callers build an `AuditEntry` (what happened); a store seals it into an `AuditRecord`
by giving it the next sequence number in its environment's chain and the hash of the
record before it. `verify_chain` re-derives every hash, so an edited, inserted or
deleted record is found.

A hash covers the fields a record holds as stored (`content_hash`): a field added to
`AuditEntry` later (with a default) leaves every older record's hash as it was, so old
trails keep verifying. `tests/audit/fixtures/` holds records written by earlier code.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Set
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from releasegate.errors import DeployFailed, Failed
from releasegate.release import Release
from releasegate.vocabulary import Decision, ProofKind

Kind = Literal[
    "deploy", "rollback", "approval", "gate", "verify", "build", "trigger", "drift",
    "quarantine", "notification",
]  # fmt: skip
Status = Literal[
    "started",  # written before any change to a target (write-ahead)
    "succeeded",
    "failed",
    "passed",  # gate / verify
    "blocked",  # gate
    "accepted",  # approval; trigger whose proof held (or a claim, recorded as one)
    "refused",  # approval that did not count, trigger refused; with the reason
    "rejected",  # approval: an eligible reviewer said no
    "expired",  # approval timed out / too old
    "interrupted",  # deploy/rollback: its run died after "started"; closed by the next change
    "quarantined",  # quarantine: a version rolled back from an environment is kept out
    "released",  # quarantine: a person let it back in, with a reason
    "overridden",  # gate: blocked, and let through by a proven break-glass override
    "detected",  # drift: the target serves something the trail does not say it should
    "resolved",  # drift: the target agrees with the trail again
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
    pause_key: str | None = None
    """Signed decisions: the pause it answered, and when the reviewer signed (both signed:
    `payload.DecisionPayload`). None on decisions recorded before they were signed (the
    version 1 message)."""
    issued_at: datetime | None = None
    not_before: datetime | None = None
    """A deferred decision: it authorises no rollout before this time (signed with it)."""

    @model_serializer(mode="wrap")
    def _without_unset_later_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Hashes cover the stored JSON: a decision that holds none of the fields added
        # after records were first written is stored (and hashed) exactly as before they
        # existed, so older records keep verifying.
        data: dict[str, Any] = handler(self)
        for later in _LATER_APPROVAL_FIELDS:
            if data.get(later) is None:
                data.pop(later, None)
        return data


_LATER_APPROVAL_FIELDS = ("pause_key", "issued_at", "not_before")


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
    actor_proof: ProofKind | None = None
    """How `actor` is known: webhook, signed or claimed. None on records written before it
    was recorded: those actors were all claimed."""
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
    trigger_seq: int | None = None
    """The run's place in the trigger order: the sequence number of its `trigger` record
    (None on the trigger record itself, and on records written before it was recorded)."""
    attempt: int | None = None
    """Which attempt of its flow run wrote the record: 1 the first; on a rerun (Prefect's
    Retry keeps the flow-run id) Prefect's run count when it began, above 1 and not
    necessarily consecutive. None outside a flow run, and on records written before it was
    recorded."""


class AuditRecord(AuditEntry):
    """A sealed entry: its place in the environment's chain and its hash."""

    seq: int
    prev_hash: str
    hash: str

    def who(self) -> str:
        """The actor with how they are known: `dave (signed)`. A record written before
        proofs were recorded shows its actor as a claim, which is all it ever was."""
        return f"{self.actor} ({self.actor_proof or 'claimed'})"


def release_of(change: AuditRecord) -> Release:
    """The release a recorded change deployed, digest and all."""
    try:
        return Release.model_validate(change.details["release"])
    except (KeyError, ValueError) as exc:
        raise DeployFailed(
            f"record {change.id} does not say which artifact {change.version} was"
        ) from exc


_ENTRY_FIELDS = frozenset(AuditEntry.model_fields)
_SEALING = frozenset({"seq", "prev_hash", "hash"})


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _body(record: AuditEntry, fields: Set[str], seq: int, prev_hash: str) -> dict[str, Any]:
    return {
        **record.model_dump(mode="json", include=set(fields)),
        "seq": seq,
        "prev_hash": prev_hash,
    }


def seal(entry: AuditEntry, *, seq: int, prev_hash: str) -> AuditRecord:
    """Give `entry` its place in the chain: every field of today's entry is hashed."""
    body = _body(entry, _ENTRY_FIELDS, seq, prev_hash)
    return AuditRecord.model_validate({**body, "hash": _digest(body)})


def content_hash(record: AuditRecord) -> str:
    """The hash `record` must carry, over the fields it holds as stored.

    Only the fields the stored JSON has count (pydantic's `model_fields_set`), not the
    defaults of fields it lacks: a field added to `AuditEntry` later is absent from older
    records, so adding one never changes the hash of a record written before it. (An
    approval inside a record leaves out the fields added to it later unless they hold
    something: `ApprovalEntry`'s serializer.)
    """
    return _digest(_body(record, record.model_fields_set - _SEALING, record.seq, record.prev_hash))


class NotARecord(Failed):
    """Stored bytes that are not a valid audit record: damaged, truncated or foreign."""


def encode(record: AuditRecord) -> bytes:
    """A record as stored, byte for byte the same in every store (so copies compare equal)."""
    return record.model_dump_json().encode()


def decode(data: bytes) -> AuditRecord:
    """The record `data` holds; NotARecord (with a short reason) if it holds none."""
    try:
        return AuditRecord.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise NotARecord(f"{where + ': ' if where else ''}{first['msg']}") from None


class ChainCheck:
    """Checks one environment's chain a record at a time, in sequence order.

    Holds only the previous record's hash, so a chain of any length is checked in constant
    memory. `missing(seq)` tells it a slot holds no readable record: the record after such a
    gap is checked on its own (its link cannot be), and the gap is reported once by the caller.
    """

    def __init__(self) -> None:
        self.expected_seq = 0
        self.expected_prev: str | None = GENESIS

    def feed(self, rec: AuditRecord) -> list[str]:
        """Problems with `rec`, the next record read; [] when it follows on intact."""
        problems = []
        where = f"{rec.environment} #{rec.seq} ({rec.id})"
        if rec.seq != self.expected_seq:
            problems.append(f"{where}: expected sequence {self.expected_seq}: a record is missing")
        if self.expected_prev is not None and rec.prev_hash != self.expected_prev:
            problems.append(f"{where}: prev_hash does not match the record before it")
        if content_hash(rec) != rec.hash:
            problems.append(f"{where}: content does not match its hash: the record was edited")
        self.expected_prev, self.expected_seq = rec.hash, rec.seq + 1
        return problems

    def missing(self, seq: int) -> None:
        """Slot `seq` holds no readable record (already reported by the caller)."""
        self.expected_prev, self.expected_seq = None, seq + 1


def verify_chain(records: Iterable[AuditRecord]) -> list[str]:
    """Problems in one environment's chain, oldest first; [] when it is intact.

    `records` must be the whole chain in sequence order.
    """
    check = ChainCheck()
    return [problem for rec in records for problem in check.feed(rec)]
