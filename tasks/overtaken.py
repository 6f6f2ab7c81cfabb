"""A run waiting for approval that a newer run overtakes ends at once, without a reviewer.

While the run is paused the flow cannot act, so a thread beside the pause reads the
environment's trail every `WATCH_SECONDS`. When the outdated gate would block, it resumes
the run with an empty answer (`WAKE_UP`): not a decision. The run then checks its order
itself (`tasks.gates.check_order`), records the block and ends (exit 3). Anyone may send the
same empty answer; the run only re-checks and asks again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from uuid import UUID

from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.flow_runs import resume_flow_run

from releasegate.audit.record import AuditRecord
from releasegate.policy.gates import outdated_gate
from releasegate.policy.triggers import is_accepted
from releasegate.release import Release
from releasegate.tasks.api import prefect_client
from releasegate.tasks.context import RunContext
from releasegate.tasks.gates import LOOKBACK, order_facts
from releasegate.trigger import TRIGGERS

WATCH_SECONDS = 2.0
WAKE_UP = {"reviewer": "", "decision": "approve", "comment": "", "signature": "-"}
"""The answer that is not a decision: the run re-checks whether it is still current. (An
empty reviewer makes it one; the signature is a placeholder because a signed form
requires one.)"""

log = logging.getLogger(__name__)


@contextmanager
def watched(ctx: RunContext, environment: str, release: Release, run_id: str) -> Iterator[None]:
    """Around one pause: wake the run if it is overtaken in `environment` meanwhile."""
    if ctx.config.environments[environment].outdated == "allow":
        yield
        return
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch,
        args=(ctx, environment, release, run_id, stop),
        name=f"releasegate-overtaken-{environment}",
        daemon=True,
    )
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5 * WATCH_SECONDS)


def _watch(
    ctx: RunContext, environment: str, release: Release, run_id: str, stop: threading.Event
) -> None:
    env = ctx.config.environments[environment]
    while not stop.wait(WATCH_SECONDS):
        try:
            if outdated_gate(env, order_facts(ctx, environment, release)).passed:
                continue
            resume_flow_run(UUID(run_id), run_input=WAKE_UP)
            return
        except Exception as exc:
            # The store or the API may fail for a moment, or the pause is not registered
            # yet: try again next round. The watcher must never end the run itself; the
            # gate before the rollout still decides.
            log.debug("overtaken watcher: %s", exc)


def newer_in_flight(ctx: RunContext, environment: str) -> list[str]:
    """Runs triggered after this one, not finished, that could change `environment`: every
    deploy, and rollbacks of `environment`. One line each, for the approval request."""
    ours = ctx.trigger.seq if ctx.trigger else None
    if ours is None:
        return []
    newer: list[AuditRecord] = []
    for record in islice(ctx.store.newest(TRIGGERS), LOOKBACK):
        if record.seq <= ours:
            break
        request, where = record.details.get("request"), record.details.get("environment")
        if (
            is_accepted(record)
            and record.app == ctx.config.app.name
            and record.flow_run_id
            and (request == "deploy" or where == environment)
        ):
            newer.append(record)
    states = _states([r.flow_run_id for r in newer if r.flow_run_id])
    return [
        f"{r.details.get('request')} {r.version or ''} by {r.actor} ({r.actor_proof}), "
        f"trigger #{r.seq}, run {r.flow_run_id} ({states[r.flow_run_id]})"
        for r in newer
        if r.flow_run_id in states
    ]


def _states(run_ids: list[str]) -> dict[str, str]:
    """The state name of each run that has not finished."""
    if not run_ids:
        return {}
    with prefect_client() as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(i) for i in run_ids]))
        )
    return {
        str(r.id): r.state.name or r.state.type.value
        for r in runs
        if r.state and not r.state.is_final()
    }
