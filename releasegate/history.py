"""Reading the audit trail for people: one row per deploy or rollback, newest first."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from rich.table import Table

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


def table(rows: list[AuditRecord]) -> Table:
    """Records as a table for the terminal."""
    table = Table("when (UTC)", "env", "kind", "version", "status", "actor", "approvers")
    for column in table.columns:
        column.no_wrap = True
    table.add_column("reason", overflow="fold")
    for r in rows:
        style = {"succeeded": "green", "failed": "red", "started": "yellow"}.get(r.status, "")
        table.add_row(
            f"{r.finished_at or r.started_at:%m-%d %H:%M:%S}",
            r.environment,
            r.kind,
            r.version or "",
            f"[{style}]{r.status}[/]" if style else r.status,
            r.actor,
            ", ".join(r.approvers),
            r.reason or "",
        )
    return table
