"""Dead runs do not stay Running: Prefect's own zombie detection, set up idempotently.

In Prefect 3.9 every flow run's engine emits a `prefect.flow-run.heartbeat` event every
`PREFECT_FLOWS_HEARTBEAT_FREQUENCY` seconds (default 180, minimum 30), paused runs
included, whether it runs in a CLI process, under `releasegate serve` or under a worker.
This automation (the one Prefect documents for zombie flows) marks a releasegate run
Crashed when a heartbeat is followed by neither another heartbeat nor a final state within
three intervals: its process is gone (`kill -9`, a lost machine). A run killed while it
held an environment is also marked at once by the next change there (tasks/reconcile.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import timedelta

import httpx
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectNotFound
from prefect.settings import get_current_settings

from releasegate.deployment_names import DEPLOY_FLOW, PROMOTE_FLOW, RECONCILE_FLOW, ROLLBACK_FLOW
from releasegate.tasks.api import prefect_client

NAME = "releasegate: crash flow runs without heartbeats"
FLOWS = (DEPLOY_FLOW, ROLLBACK_FLOW, PROMOTE_FLOW, RECONCILE_FLOW)
MISSED_HEARTBEATS = 3
FINAL = ("Completed", "Failed", "Cancelled", "Crashed")


def zombie_automation(
    name: str = NAME, flows: Iterable[str] = FLOWS, within: timedelta | None = None
) -> AutomationCore:
    """Crash a run of `flows` whose heartbeat is not followed by another (or a final state)
    `within` (default: three heartbeat intervals of this process's settings)."""
    if within is None:
        every = get_current_settings().flows.heartbeat_frequency or 180
        within = timedelta(seconds=every * MISSED_HEARTBEATS)
    return AutomationCore(
        name=name,
        description="Marks a releasegate flow run Crashed when its process stops sending "
        "heartbeats (created by releasegate).",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *(f"prefect.flow-run.{s}" for s in FINAL)},
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "flow", "prefect.resource.name": list(flows)}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=within,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"releasegate: no heartbeat for {within}: the process running this "
                "flow run is gone",
            )
        ],
    )


def ensure_zombie_detection(automation: AutomationCore | None = None) -> None:
    """Create the automation unless it exists, or update it if it watches other flows
    (made before a flow was added): one read when it is as wanted.

    Automation names are not unique: two runs starting at once may both create it. Each
    creator then keeps the one with the smallest id and deletes the others, so all agree.
    """
    wanted = automation or zombie_automation()
    with prefect_client() as client:
        made = client.read_automations_by_name(wanted.name)
        if not made:
            client.create_automation(wanted)
            made = client.read_automations_by_name(wanted.name)
        kept, *extra = sorted(made, key=lambda a: a.id)
        for duplicate in extra:
            with suppress(ObjectNotFound, httpx.HTTPStatusError):  # another creator was first
                client.delete_automation(duplicate.id)
        if _watched(kept) != _watched(wanted):
            client.update_automation(kept.id, wanted)


def _watched(automation: AutomationCore) -> object:
    """Which flows' runs `automation` watches."""
    return getattr(automation.trigger, "match_related", None)
