"""What a release train takes: the newest version that passed the upstream environment, is
not quarantined downstream, and is newer (in the trigger order) than what runs there. Pure:
works on records, newest first, read lazily.

What is quarantined downstream comes from `policy.quarantine.active` (the one reader of
the quarantine chain, shared with the quarantine gate and rollbacks): an artifact, so a
rebuild of the same version label from a newer commit is not passed over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from releasegate.audit.record import AuditRecord
from releasegate.policy.order import LiveChange
from releasegate.policy.quarantine import Quarantine, of_artifact
from releasegate.policy.rollback import is_deploy_success


class Choice(BaseModel):
    """The upstream deploy to promote, or why there is nothing to promote."""

    model_config = ConfigDict(frozen=True)

    origin: AuditRecord | None = None
    """The upstream environment's successful deploy of the chosen version (its digest, its
    smoke results, and the actor and trigger order of the run that built it)."""
    skipped: tuple[str, ...] = ()
    """Newer versions passed over, each with why (quarantined)."""
    reason: str


def choose(
    upstream_newest: Iterable[AuditRecord],
    *,
    upstream: str,
    environment: str,
    live: LiveChange | None,
    live_digest: str | None,
    quarantine: Sequence[Quarantine],
) -> Choice:
    """The newest successful upstream deploy worth promoting into `environment`.

    Nothing is new when the newest promotable version is what runs there already, or was
    triggered no later than the change that runs there (the outdated gate would refuse it:
    only a rollback goes back). Quarantined versions are passed over, and said so.
    """
    skipped: list[str] = []
    for record in upstream_newest:
        if not is_deploy_success(record):
            continue
        if (held := of_artifact(quarantine, record.artifact or "")) is not None:
            skipped.append(f"{record.version} is quarantined in {environment} ({held.reason})")
            continue
        if live_digest is not None and record.artifact == live_digest:
            return _nothing(f"{environment} already runs {record.version}", skipped)
        if live is not None and not _later(record, live):
            return _nothing(
                f"the newest version that passed {upstream}, {record.version} (trigger "
                f"#{record.trigger_seq}), is not newer than {live.describe()}",
                skipped,
            )
        passed = record.finished_at or record.started_at
        reason = f"{record.version} passed {upstream} at {passed:%Y-%m-%d %H:%M:%S} UTC"
        return Choice(origin=record, skipped=tuple(skipped), reason=reason)
    return _nothing(f"no version has passed {upstream} yet", skipped)


def _later(record: AuditRecord, live: LiveChange) -> bool:
    if live.trigger_seq is None:
        return True
    return record.trigger_seq is not None and record.trigger_seq > live.trigger_seq


def _nothing(reason: str, skipped: list[str]) -> Choice:
    if skipped:
        reason = f"{reason}; {'; '.join(skipped)}"
    return Choice(reason=f"nothing new to promote: {reason}", skipped=tuple(skipped))
