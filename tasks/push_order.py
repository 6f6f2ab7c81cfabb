"""Pushes take their places in the trigger order in the order they arrived.

The receiver creates one run per push as deliveries arrive, tagged `github-push`. A worker
may start two of them in one poll, and then they race to record their triggers: the older
push could take the later place in the order and, being "newer", end up live over the newer
commit. So before recording its trigger, a push's run waits until every push run of its
deployment created before it has recorded its own trigger or ended (at most `WAIT_SECONDS`:
a run stuck elsewhere does not hold every later push forever).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from uuid import UUID

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import TERMINAL_STATES, FlowRun
from prefect.context import FlowRunContext

from releasegate.audit.store import AuditStore
from releasegate.policy.triggers import recorded
from releasegate.tasks.api import prefect_client
from releasegate.trigger import PUSH_TAG, TRIGGERS

WAIT_SECONDS = 120.0
POLL_SECONDS = 0.5


@task(cache_policy=NO_CACHE)
def wait_for_earlier_pushes(store: AuditStore) -> None:
    """Return once every earlier push run of this run's deployment has its trigger recorded."""
    context = FlowRunContext.get()
    me = context.flow_run if context else None
    if me is None or PUSH_TAG not in me.tags or me.deployment_id is None:
        return
    deadline = time.monotonic() + WAIT_SECONDS
    while waiting := _unrecorded_earlier(me, me.deployment_id, store):
        if time.monotonic() > deadline:
            get_run_logger().warning(
                "push runs created before this one have not recorded their triggers after "
                "%.0fs (%s): taking a place in the order now",
                WAIT_SECONDS,
                ", ".join(sorted(waiting)),
            )
            return
        time.sleep(POLL_SECONDS)


def _unrecorded_earlier(me: FlowRun, deployment: UUID, store: AuditStore) -> set[str]:
    mine = me.expected_start_time or datetime.now(UTC)
    with prefect_client() as client:
        earlier = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[deployment]),
                tags=FlowRunFilterTags(all_=[PUSH_TAG]),
                # (validated: the filter's field is typed with Prefect's own DateTime)
                expected_start_time=FlowRunFilterExpectedStartTime.model_validate(
                    {"before_": mine}
                ),
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(not_any_=list(TERMINAL_STATES))
                ),
            )
        )
    # Runs created at the same instant are ordered by id, so that no two wait for each other.
    before = [
        run
        for run in earlier
        if run.expected_start_time is not None
        and (run.expected_start_time, str(run.id)) < (mine, str(me.id))
    ]
    if not before:
        return set()
    since = min(run.expected_start_time or mine for run in before)
    waiting = {str(run.id) for run in before}
    return waiting - recorded(store.newest(TRIGGERS), waiting, since=since)
