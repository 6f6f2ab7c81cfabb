"""The approvals so far: one table artifact per run and environment, listing every decision
given with its verdict and why, updated in place after each one.

A view, like every artifact (the audit trail is the record): publishing it is
bookkeeping, and its failure is a warning in the run log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from uuid import UUID

from prefect.artifacts import create_table_artifact
from prefect.client.schemas.actions import ArtifactUpdate

from releasegate.approval import Attempt
from releasegate.redaction import redact_data
from releasegate.tasks.api import prefect_client
from releasegate.tasks.audit import bookkeeping

VERDICTS = {"accepted": "counts", "rejected": "counts (rejects)", "refused": "REFUSED"}


@dataclass
class ApprovalLog:
    """The decisions given on one run for one environment, and the artifact showing them."""

    app: str
    environment: str
    version: str
    attempts: list[Attempt] = field(default_factory=list)
    artifact: UUID | None = None

    def add(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        publish(self)

    def refused(self) -> Attempt | None:
        """The last decision, if it did not count (the next form starts with why)."""
        last = self.attempts[-1] if self.attempts else None
        return last if last is not None and last.status == "refused" else None

    def rows(self) -> list[dict[str, str]]:
        return [
            {
                "at": f"{a.at:%Y-%m-%d %H:%M:%S} UTC",
                "reviewer": a.reviewer,
                "decision": a.decision,
                "verdict": VERDICTS.get(a.status, a.status),
                "why": f"{a.reason} ({a.code})" if a.code else "",
                "comment": a.comment,
            }
            for a in self.attempts
        ]

    def title(self) -> str:
        return f"Approvals of {self.app} {self.version} for {self.environment}, as judged"


@bookkeeping
def publish(log: ApprovalLog) -> None:
    """Create the run's approvals table at the first decision, then update it in place."""
    rows = redact_data(log.rows())
    if log.artifact is None:
        made = create_table_artifact(table=rows, description=log.title())
        assert isinstance(made, UUID)  # the sync side of Prefect's sync/async dispatch
        log.artifact = made
        return
    with prefect_client() as client:
        client.update_artifact(
            log.artifact, ArtifactUpdate(data=json.dumps(rows), description=log.title())
        )
