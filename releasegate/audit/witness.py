"""A witnessed chain head: the newest (seq, hash) of each chain, kept outside the store.

A hash chain proves that nothing *inside* it was edited, but it cannot tell a chain whose
newest records were deleted (or rewritten and re-hashed) from a shorter honest one. So after
every append the store also tells a `Witness` (a place the store's writer cannot silently
rewrite, e.g. Prefect artifacts, which keep every version) the new head. `audit verify`
then compares the chain with the newest witnessed head.

Before publishing, the write path compares the chain it just extended with the newest
witnessed head. If they disagree (the tail was deleted or rewritten since it was
witnessed), the new head is published *with* that discrepancy, and every later head
carries it forward: a legitimate append after tampering does not wash the evidence away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from releasegate.audit.record import AuditRecord, utcnow
from releasegate.audit.store import AuditUnavailable, Finding
from releasegate.errors import Failed

log = logging.getLogger("releasegate.audit")


class WitnessUnavailable(Failed):
    """The witness could not be read or written (unreachable, refused, unreadable answer)."""


class WitnessedHead(BaseModel):
    """What the witness knows of one chain: its head when last published."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: str
    seq: int
    hash: str
    at: datetime
    discrepancy: str = ""
    """Set (and carried forward) once the chain was found to disagree with the witness."""


class Witness(Protocol):
    """Somewhere outside the store that keeps each chain's newest head."""

    scope: str
    """Which store the heads belong to (its URL): one witness may serve many stores."""

    def publish(self, head: WitnessedHead) -> None:
        """Record `head` as the newest head of its chain. Raises WitnessUnavailable."""
        ...

    def newest(self, environment: str) -> WitnessedHead | None:
        """The newest head published for `environment`, or None if none was.
        Raises WitnessUnavailable."""
        ...


HashAt = Callable[[int], str | None]
"""The hash of the stored record in a slot; None when the slot is empty or unreadable."""


def disagreement(seen: WitnessedHead, head: AuditRecord | None, hash_at: HashAt) -> str | None:
    """How the chain whose newest record is `head` disagrees with the witnessed head `seen`,
    or None when the witnessed record is in the chain, unchanged.

    Costs at most one read (`hash_at`), whatever the history size.
    """
    env, want = seen.environment, seen.hash[:12]
    if head is None:
        return f"{env}: the witness saw #{seen.seq} ({want}…) but the store has no records"
    got: str | None
    if seen.seq == head.seq:
        got = head.hash
    elif seen.seq == head.seq - 1:
        got = head.prev_hash
    else:
        got = hash_at(seen.seq)
    if got == seen.hash:
        return None
    if got is None:
        return (
            f"{env} #{seen.seq}: witnessed ({want}…) at {seen.at:%Y-%m-%d %H:%M:%S} UTC "
            f"but missing or unreadable now (newest readable: #{head.seq}): "
            "the newest records were deleted or truncated"
        )
    return (
        f"{env} #{seen.seq}: witnessed with hash {want}… at {seen.at:%Y-%m-%d %H:%M:%S} UTC, "
        f"the store's has {got[:12]}…: the record was rewritten after it was witnessed"
    )


def publish(witness: Witness | None, record: AuditRecord, hash_at: HashAt, store: str) -> None:
    """Tell `witness` that `record` is its chain's new head. A disagreement found on the way
    (the tail was tampered with since it was witnessed) is published with the head and
    carried forward. Never fails: the record is stored, that is what counts; a witness that
    cannot be reached is logged (the tail is then reported unwitnessed)."""
    if witness is None:
        return
    env = record.environment
    try:
        seen = witness.newest(env)
        carried = seen.discrepancy if seen is not None else ""
        if seen is not None:
            problem = disagreement(seen, record, hash_at)
            if problem is None and seen.seq >= record.seq:
                return  # a later head is already witnessed: ours was a late publish
            if problem is not None:
                log.error("audit store %s: %s", store, problem)
                carried = carried or f"found when #{record.seq} was appended: {problem}"
        witness.publish(
            WitnessedHead(
                environment=env, seq=record.seq, hash=record.hash, at=utcnow(), discrepancy=carried
            )
        )
    except (WitnessUnavailable, AuditUnavailable) as exc:
        log.warning(
            "audit store %s: %s #%d is stored but not witnessed: %s", store, env, record.seq, exc
        )


def compare(
    witness: Witness | None, env: str, newest: AuditRecord | None, hash_at: HashAt
) -> Iterator[Finding]:
    """What `audit verify` says of a chain whose newest readable record is `newest`,
    measured against the newest witnessed head."""
    upto = f"#0..#{newest.seq}" if newest is not None else "nothing"
    if witness is None:
        if newest is not None:
            yield Finding(
                f"{env}: the tail is unwitnessed (no witness configured): {upto} are "
                "chained, but deleting the newest records would go unnoticed",
                "unwitnessed",
            )
        return
    try:
        seen = witness.newest(env)
        problem = disagreement(seen, newest, hash_at) if seen is not None else None
    except WitnessUnavailable as exc:
        yield Finding(
            f"{env}: the tail is unwitnessed: the witness cannot be read ({exc}); "
            + (
                f"{upto} are chained, but deleting the newest records would go unnoticed"
                if newest is not None
                else "the store has no records of it, and whether it had is unknown"
            ),
            "unwitnessed",
        )
        return
    if seen is None:
        if newest is not None:
            yield Finding(f"{env}: the tail is unwitnessed: none witnessed yet", "unwitnessed")
        return
    if seen.discrepancy:
        yield Finding(f"{env}: the witness recorded a discrepancy: {seen.discrepancy}")
    if problem is not None:
        yield Finding(problem)
    elif newest is not None and newest.seq > seen.seq:
        yield Finding(
            f"{env} #{seen.seq + 1}..#{newest.seq}: appended after the newest witnessed "
            f"head (#{seen.seq}): unwitnessed",
            "unwitnessed",
        )
