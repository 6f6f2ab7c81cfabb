"""What every step of one run needs: configuration, audit store, and who/what/where facts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from prefect.runtime import flow_run

from releasegate.audit.record import AuditEntry, AuditRecord, Kind, Status
from releasegate.audit.store import AuditStore
from releasegate.config import Config
from releasegate.policy.break_glass import Override
from releasegate.redaction import redact_data
from releasegate.release import Release
from releasegate.tasks.audit import record as append
from releasegate.tasks.events import announce
from releasegate.tasks.logs import redact_logs
from releasegate.tasks.zombies import ensure_zombie_detection
from releasegate.trigger import Trigger
from releasegate.wiring import open_store


@dataclass(frozen=True)
class RunContext:
    """One flow run's facts, so each audit entry is filled in one place."""

    config: Config
    store: AuditStore
    trigger: Trigger | None = None
    """Who triggered the run and how that is known; set once the trigger is recorded."""
    branch: str | None = None
    commit: str | None = None
    attempt: int = 1
    """Prefect's run count when this attempt began: 1 on the first, more on a Retry (not
    consecutive: in a retried run a resume from a pause raises the count too). Read once."""
    override: Override | None = None
    """The run's request to go through a freeze (break-glass), if it made one."""
    committed_at: datetime | None = None
    """When the commit was made, as the push said: the start of the lead time."""

    @classmethod
    def open(cls, config: Config, **facts: Any) -> RunContext:
        redact_logs()
        ensure_zombie_detection()
        store = open_store(config)
        attempt = max(1, flow_run.get_run_count())
        return cls(config=config, store=store, attempt=attempt, **facts)

    def triggered(self, trigger: Trigger) -> RunContext:
        """This context, for a run whose trigger is established."""
        return replace(self, trigger=trigger)

    @property
    def who(self) -> str:
        """The actor with how they are known (`dave (signed)`), or "?" before the trigger."""
        return self.trigger.who() if self.trigger is not None else "?"

    @property
    def actor(self) -> str:
        assert self.trigger is not None, "the trigger is established before anything else"
        return self.trigger.actor

    def record(
        self,
        kind: Kind,
        environment: str,
        status: Status,
        release: Release | None = None,
        **fields: Any,
    ) -> AuditRecord:
        """Append one audit record for this run (a retried task: the store may fail
        transiently); nothing proceeds until it is stored. Then announce it as a Prefect
        event (tasks/events.py)."""
        stored = append(self.store, self._entry(kind, environment, status, release, **fields))
        announce(stored)
        return stored

    def _entry(
        self,
        kind: Kind,
        environment: str,
        status: Status,
        release: Release | None = None,
        **fields: Any,
    ) -> AuditEntry:
        """An audit entry for this run, with the release's version and digest if given."""
        base: dict[str, Any] = {
            "kind": kind,
            "environment": environment,
            "app": self.config.app.name,
            "status": status,
            "branch": self.branch,
            "commit": self.commit,
            "flow_run_id": flow_run.get_id(),
            "flow_run_url": flow_run.get_flow_run_ui_url(),
            "attempt": self.attempt if flow_run.get_id() else None,
        }
        if self.trigger is not None:
            base |= {
                "actor": self.trigger.actor,
                "actor_proof": self.trigger.proof,
                "trigger_seq": self.trigger.seq,
            }
        if release is not None:
            base |= {"version": release.version, "artifact": release.digest}
        entry = AuditEntry(**(base | fields)).model_dump(mode="json")
        # The trail is append-only (on S3 with Object Lock, undeletable): no credential from a
        # configured URL or an error message may enter it, whatever field carries it. What a
        # person signed (approvals; a signed request's reason and facts) is kept as signed:
        # masking a URL in it would break the proof `audit verify` re-checks.
        signed = SIGNED_FIELDS.get(kind, frozenset())
        kept = {key: value for key, value in entry.items() if key in signed}
        return AuditEntry.model_validate({**redact_data(entry), **kept})


SIGNED_FIELDS = {
    "approval": frozenset({"approvals"}),
    "deploy": frozenset({"approvals"}),
    "trigger": frozenset({"reason", "details"}),
}
"""Per record kind, the fields holding what a person signed, byte for byte."""
