"""Quarantine: a version rolled back from an environment stays out of it until a person
lets it back. Pure: works on the records of the quarantine chain, newest first.

Every quarantine and every release is a record in one chain of its own (`QUARANTINE`),
across environments: reading what is quarantined costs as many records as there were
quarantine events, never a walk through an environment's whole history. The artifact
(digest) is what is quarantined: a rebuild of a newer commit under the same version label
is another artifact and is not affected.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from releasegate.audit.record import AuditEntry, AuditRecord

QUARANTINE = "_quarantine"
"""The audit chain of quarantine records (`kind = "quarantine"`, status `quarantined` or
`released`; the environment in `details.environment`). No environment can be called this."""


class Quarantine(BaseModel):
    """One artifact kept out of one environment, and the rollback that put it there."""

    model_config = ConfigDict(frozen=True)

    environment: str
    version: str
    artifact: str
    since: datetime
    reason: str
    by: str
    """Who rolled it back, with how that is known (`dave (signed)`)."""
    rollback_run: str | None
    """The flow run of the rollback that quarantined it."""

    @classmethod
    def of(cls, record: AuditRecord) -> Quarantine:
        return cls(
            environment=str(record.details.get("environment", "")),
            version=record.version or "",
            artifact=record.artifact or "",
            since=record.started_at,
            reason=record.reason or "",
            by=record.who(),
            rollback_run=record.flow_run_id,
        )

    def describe(self) -> str:
        return (
            f"{self.version} ({self.artifact[:19]}) was rolled back from {self.environment} "
            f"at {self.since:%Y-%m-%d %H:%M} UTC by {self.by}, flow run "
            f"{self.rollback_run or '?'}: {self.reason}"
        )


def active(newest: Iterable[AuditRecord], environment: str | None = None) -> list[Quarantine]:
    """The quarantines in force (of `environment`, or of all), newest first: for each
    environment and artifact, its newest quarantine record decides."""
    decided: set[tuple[str, str | None]] = set()
    found: list[Quarantine] = []
    for record in newest:
        if record.kind != "quarantine":
            continue
        where = str(record.details.get("environment", ""))
        if environment is not None and where != environment:
            continue
        if (where, record.artifact) in decided:
            continue
        decided.add((where, record.artifact))
        if record.status == "quarantined":
            found.append(Quarantine.of(record))
    return found


def released(held: Quarantine, app: str, actor: str, reason: str) -> AuditEntry:
    """The record that ends `held`, made by `actor` (a claim: typed on the command line)
    outside any run."""
    return AuditEntry(
        kind="quarantine",
        environment=QUARANTINE,
        app=app,
        status="released",
        actor=actor,
        actor_proof="claimed",
        version=held.version,
        artifact=held.artifact,
        reason=reason,
        details={"environment": held.environment},
    )


def of_artifact(quarantines: Iterable[Quarantine], artifact: str) -> Quarantine | None:
    """The quarantine keeping `artifact` out, if any."""
    return next((q for q in quarantines if q.artifact == artifact), None)
