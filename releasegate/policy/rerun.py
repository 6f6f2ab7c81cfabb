"""Rerunning a past flow run: what its earlier attempts did decides what the rerun does.

Prefect's *Retry* (the UI's button, or `POST /flow_runs/{id}/set_state` with AwaitingRetry)
runs a finished run again under the same flow-run id and parameters, with a higher run
count. For a deploy run that went live, "run it again" can only mean "put that back": the
rerun restores the run's own artifact (its digest, no rebuild) in every environment it
reached, as a rollback. A deploy that never went all the way runs the pipeline again, every
gate and approval included. A rollback run restores the same release its first attempt
chose, whatever the default target would be today.

Pure: works on one environment's records, newest first, read lazily and only back to the
run's creation (less a margin for clocks).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from releasegate.audit.record import AuditRecord
from releasegate.policy.rollback import is_deploy_success
from releasegate.policy.triggers import back_to


def own_records(
    newest: Iterable[AuditRecord], flow_run_id: str, *, since: datetime
) -> Iterator[AuditRecord]:
    """The records `flow_run_id` wrote in this environment, newest first; nothing older than
    `since` (the run's creation) is read, bar a margin for the writers' clocks."""
    return (r for r in back_to(newest, since) if r.flow_run_id == flow_run_id)


def reached(
    newest: Iterable[AuditRecord], flow_run_id: str, *, since: datetime
) -> AuditRecord | None:
    """The run's successful deploy in this environment (its release went live here), if any."""
    return next(filter(is_deploy_success, own_records(newest, flow_run_id, since=since)), None)


def chosen(
    newest: Iterable[AuditRecord], flow_run_id: str, *, since: datetime
) -> AuditRecord | None:
    """The release a rollback run set out to restore here on an earlier attempt: its newest
    rollback record (the `started` one is written before the target is touched, so a target
    was chosen whenever one exists, whatever became of the attempt)."""
    return next(
        (r for r in own_records(newest, flow_run_id, since=since) if r.kind == "rollback"),
        None,
    )
