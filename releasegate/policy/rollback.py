"""Which release a rollback goes to. Pure: works on records, newest first, read lazily."""

from __future__ import annotations

from collections.abc import Iterable

from releasegate.audit.record import AuditRecord

CHANGES = frozenset({"deploy", "rollback"})


def is_live_change(record: AuditRecord) -> bool:
    """A deploy or rollback that completed: the environment served its version afterwards."""
    return record.kind in CHANGES and record.status == "succeeded"


def current_version(newest: Iterable[AuditRecord]) -> AuditRecord | None:
    """The change that put the environment's current version in place."""
    return next((r for r in newest if is_live_change(r)), None)


def previous_good(newest: Iterable[AuditRecord], current: str | None) -> AuditRecord | None:
    """The newest successful change whose version differs from `current`.

    Not simply the second-newest record: failed deploys, gate and approval events, and
    redeploys of the current version are skipped. Stops reading at the first match, so a
    lazily paged store reads only as far back as it must.
    """
    return next((r for r in newest if is_live_change(r) and r.version != current), None)


def by_flow_run(newest: Iterable[AuditRecord], flow_run_id: str) -> AuditRecord | None:
    """The successful change made by a past flow run (for "roll back to that run")."""
    return next((r for r in newest if is_live_change(r) and r.flow_run_id == flow_run_id), None)


def by_version(newest: Iterable[AuditRecord], version: str) -> AuditRecord | None:
    """The newest successful change that deployed `version` (its recorded digest wins)."""
    return next((r for r in newest if is_live_change(r) and r.version == version), None)
