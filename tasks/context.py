"""What every step of one run needs: configuration, audit store, and who/what/where facts."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Any

from prefect.runtime import flow_run

from releasegate.audit.record import AuditEntry, AuditRecord, Kind, Status
from releasegate.audit.store import AuditStore
from releasegate.config import Config
from releasegate.release import Release
from releasegate.tasks.audit import record as append
from releasegate.wiring import open_store


@dataclass(frozen=True)
class RunContext:
    """One flow run's facts, so each audit entry is filled in one place."""

    config: Config
    store: AuditStore
    actor: str
    branch: str | None = None
    commit: str | None = None

    @classmethod
    def open(cls, config: Config, actor: str, **facts: Any) -> RunContext:
        store = open_store(config)
        return cls(config=config, store=store, actor=actor, **facts)

    def record(
        self,
        kind: Kind,
        environment: str,
        status: Status,
        release: Release | None = None,
        **fields: Any,
    ) -> AuditRecord:
        """Append one audit record for this run (a retried task: the store may fail
        transiently); nothing proceeds until it is stored."""
        return append(self.store, self._entry(kind, environment, status, release, **fields))

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
            "actor": self.actor,
            "branch": self.branch,
            "commit": self.commit,
            "flow_run_id": flow_run.get_id(),
            "flow_run_url": flow_run.get_flow_run_ui_url(),
        }
        if release is not None:
            base |= {"version": release.version, "artifact": release.digest}
        return AuditEntry(**(base | fields))


def default_actor() -> str:
    """Who is acting when nobody says: RELEASEGATE_ACTOR, else the OS user."""
    return os.environ.get("RELEASEGATE_ACTOR") or getpass.getuser()
