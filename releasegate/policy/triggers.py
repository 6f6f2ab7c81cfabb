"""Judging a signed request to deploy or roll back, beyond its signature: is it fresh, and
has a run already used it? Pure: works on the trigger records, newest first, read lazily.

A signature proves who asked for *this* request; only its issue time and nonce stop the
same request from being used twice (a copied `run_deployment` call, a replayed event) or
years later. The audit store remembers every nonce an accepted request carried.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import takewhile

from pydantic import BaseModel, ConfigDict

from releasegate.audit.record import AuditRecord

MAX_AGE = timedelta(minutes=10)
"""How long a signed request may wait before a run starts on it (a worker's poll, a queue)."""
FUTURE_SKEW = timedelta(minutes=2)
"""How far ahead of this machine's clock a signer's clock may be."""
CLOCK_MARGIN = timedelta(minutes=5)
"""Records are stamped by the clocks of the machines that wrote them: search this much further
back than a still-fresh request could have been used."""


class Refusal(BaseModel):
    """Why a request does not prove its actor: a stable code and words for people."""

    model_config = ConfigDict(frozen=True)

    code: str
    reason: str


def timing(issued_at: datetime, now: datetime) -> Refusal | None:
    """Refuse a request issued too long ago (`stale`) or in the future (`future`)."""
    if issued_at > now + FUTURE_SKEW:
        return Refusal(
            code="future",
            reason=f"issued at {issued_at:%Y-%m-%d %H:%M:%S %Z}, more than {FUTURE_SKEW} "
            "ahead of this clock: check the signer's clock",
        )
    if now - issued_at > MAX_AGE:
        age = int((now - issued_at).total_seconds())
        return Refusal(
            code="stale",
            reason=f"issued {age}s ago; a signed request is good for {MAX_AGE}: sign a new one",
        )
    return None


def back_to(newest: Iterable[AuditRecord], since: datetime) -> Iterator[AuditRecord]:
    """`newest` as far back as `since`, less CLOCK_MARGIN (the writers' clocks differ):
    reading stops at the first record older than that."""
    cutoff = since - CLOCK_MARGIN
    return takewhile(lambda record: record.started_at >= cutoff, newest)


def is_accepted(record: AuditRecord) -> bool:
    """A trigger whose proof held (or whose claim was recorded as a claim)."""
    return record.kind == "trigger" and record.status == "accepted"


def earlier_use(
    newest: Iterable[AuditRecord], nonce: str, *, now: datetime, before: int | None = None
) -> AuditRecord | None:
    """The accepted trigger that already used `nonce`, if any (only records before sequence
    number `before`, when given: the check after our own record is appended, where the
    lowest sequence number wins a race). Reads back only as far as a request that is still
    fresh now could have been used."""
    for record in back_to(newest, now - MAX_AGE - FUTURE_SKEW):
        if before is not None and record.seq >= before:
            continue
        if is_accepted(record) and record.details.get("nonce") == nonce:
            return record
    return None


def own_trigger(
    newest: Iterable[AuditRecord], flow_run_id: str, *, since: datetime
) -> AuditRecord | None:
    """The accepted trigger a flow run recorded on its first attempt (a Prefect retry keeps
    the run's id): a retried run keeps its place in the trigger order. A rerun that rolls
    back records a trigger of its own (attempt 2 and up), never this one. Reads back to
    `since` (the run's creation, less a margin for clocks)."""
    for record in back_to(newest, since):
        first = (record.attempt or 1) == 1
        if is_accepted(record) and record.flow_run_id == flow_run_id and first:
            return record
    return None


def recorded(newest: Iterable[AuditRecord], flow_run_ids: set[str], *, since: datetime) -> set[str]:
    """Which of `flow_run_ids` have a trigger record (accepted or refused), reading back to
    `since` (the earliest of those runs' creation, less a margin for clocks)."""
    found: set[str] = set()
    for record in back_to(newest, since):
        if found == flow_run_ids:
            break
        if record.kind == "trigger" and record.flow_run_id in flow_run_ids:
            found.add(record.flow_run_id)
    return found
