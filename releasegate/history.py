"""Reading the audit trail for people: one row per deploy or rollback, newest first.

Pure (the terminal table is in `releasegate.views`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import count, islice

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


def unfinished(newest: Iterable[AuditRecord]) -> AuditRecord | None:
    """The newest deploy or rollback if it was started and never finished.

    Every change closes the one before it under the environment's lock (as interrupted, if
    it never finished), so only the newest can be open: in flight, or left by a crash.
    """
    change = next((r for r in newest if r.kind in CHANGES), None)
    return change if change is not None and change.status == "started" else None


class Replayed:
    """One lazy read of a trail, replayed for every question asked of it: each record is
    read (and a damaged one warned about) once, and only as far back as some question needs."""

    def __init__(self, newest: Iterable[AuditRecord]) -> None:
        self._source = iter(newest)
        self._read: list[AuditRecord] = []

    def __iter__(self) -> Iterator[AuditRecord]:
        for i in count():
            if i == len(self._read):
                record = next(self._source, None)
                if record is None:
                    return
                self._read.append(record)
            yield self._read[i]


def latest(
    newest: Iterable[AuditRecord], limit: int, *, everything: bool = False
) -> list[AuditRecord]:
    return list(islice(changes(newest, everything=everything), limit))


def latest_of_all(
    newest_per_environment: Iterable[Iterable[AuditRecord]],
    limit: int,
    *,
    everything: bool = False,
) -> list[AuditRecord]:
    """The `limit` latest rows across several environments, newest first."""
    rows = (
        r for newest in newest_per_environment for r in latest(newest, limit, everything=everything)
    )
    return sorted(
        rows, key=lambda r: (r.started_at, r.finished_at or r.started_at, r.seq), reverse=True
    )[:limit]
