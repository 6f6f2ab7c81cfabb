"""Reading the audit trail for people: one row per deploy or rollback, newest first."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from releasegate.audit.record import AuditRecord
from releasegate.policy.rollback import CHANGES


def changes(newest: Iterable[AuditRecord], *, everything: bool = False) -> Iterator[AuditRecord]:
    """Deploys and rollbacks, each shown once: its outcome, or its "started" record when
    it never finished (a crash mid-deploy shows as started-but-unfinished, not as nothing).

    With `everything`, gate, approval and verify records are included too.
    """
    finished: set[str] = set()
    for rec in newest:
        if rec.kind not in CHANGES:
            if everything:
                yield rec
            continue
        if rec.status != "started":
            if rec.operation_id:
                finished.add(rec.operation_id)
            yield rec
        elif rec.operation_id not in finished:
            yield rec


def latest(
    newest: Iterable[AuditRecord], limit: int, *, everything: bool = False
) -> list[AuditRecord]:
    return list(islice(changes(newest, everything=everything), limit))


def as_json(record: AuditRecord) -> dict[str, Any]:
    """The record as `history --json` prints it: every field, times in ISO 8601."""
    return record.model_dump(mode="json")
