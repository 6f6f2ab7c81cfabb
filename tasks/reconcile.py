"""One change at a time, starting from the truth: hold the environment, then reconcile the
trail and Prefect with what the target actually serves.

A change killed mid-way (`kill -9`, a lost machine) leaves a `started` record with no
outcome, and its Prefect flow run Running. Nothing else can change the environment while
we hold its lock, so such a record belongs to a change that will never finish: it is closed
as `interrupted`, with what the target serves now (did the change take effect or not?), and
the dead run is marked Crashed. Runs under a worker or `releasegate serve` are also caught
by Prefect itself (tasks/zombies.py); this covers a CLI run killed with its process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from prefect import get_run_logger
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.states import Crashed

from releasegate.audit.record import AuditRecord, utcnow
from releasegate.history import unfinished
from releasegate.targets.base import Deployed
from releasegate.tasks.api import prefect_client
from releasegate.tasks.context import RunContext
from releasegate.tasks.lock import Hold, hold
from releasegate.wiring import open_target


@contextmanager
def one_change(ctx: RunContext, environment: str, purpose: str) -> Iterator[Deployed | None]:
    """Hold `environment` for one change (waiting while another runs), close what a crashed
    change left open, and give what the target serves now."""
    with hold(ctx.config.app.name, environment, purpose, ctx.actor) as held:
        yield reconcile(ctx, environment, held, unfinished(ctx.store.newest(environment)))


def serving_now(ctx: RunContext, environment: str) -> Deployed | None:
    """What the target serves, read without holding the environment (what a request was
    made against, to compare with what the hold then finds)."""
    return open_target(ctx.config, environment).current()


def reconcile(
    ctx: RunContext, environment: str, held: Hold, started: AuditRecord | None
) -> Deployed | None:
    """Close `started` (the environment's unfinished change, read inside the hold) as
    interrupted and mark dead runs Crashed; return what the target serves. Closing records:
    the run's trigger is established first."""
    logger = get_run_logger()
    live = open_target(ctx.config, environment).current()
    dead: dict[str, str] = {}
    if (gone := held.abandoned) is not None:
        logger.warning(
            "%s: the previous holder of the lock never released it (it crashed or lost its "
            "lease): %s",
            environment,
            gone.describe(),
        )
        if gone.flow_run_id:
            dead[gone.flow_run_id] = f"held the lock on {environment} and never released it"
    if started is not None:
        closed = close_interrupted(ctx, started, live)
        logger.warning("%s: %s", environment, closed.reason)
        if started.flow_run_id:
            dead[started.flow_run_id] = f"its {started.kind} of {environment} never finished"
    dead.pop(flow_run.get_id() or "", None)  # a retry of a crashed run: that is us
    for run_id, why in dead.items():
        mark_crashed(run_id, f"releasegate: {why}; found by flow run {flow_run.get_id()}")
    return live


def close_interrupted(ctx: RunContext, started: AuditRecord, live: Deployed | None) -> AuditRecord:
    """Record that `started` ended without an outcome, and what the target serves now."""
    took_effect = live is not None and live.digest == started.artifact
    if live is None:
        now = "nothing is live"
    else:
        verdict = "the change took effect, unverified" if took_effect else "it did not take effect"
        now = f"the target serves {live.version} ({live.digest[:19]}): {verdict}"
    reason = (
        f"interrupted: the {started.kind} of {started.version} by flow run "
        f"{started.flow_run_id} stopped without recording an outcome; {now}"
    )
    return ctx.record(
        started.kind,
        started.environment,
        "interrupted",
        version=started.version,
        artifact=started.artifact,
        actor=started.actor,
        approvers=started.approvers,
        approvals=started.approvals,
        previous_version=started.previous_version,
        operation_id=started.operation_id,
        flow_run_id=started.flow_run_id,
        flow_run_url=started.flow_run_url,
        attempt=started.attempt,
        branch=started.branch,
        commit=started.commit,
        started_at=started.started_at,
        finished_at=utcnow(),
        reason=reason,
        details={
            "release": started.details.get("release"),
            "live": live.model_dump(mode="json", exclude={"detail"}) if live else None,
            "took_effect": took_effect,
            "closed_by": {"flow_run_id": flow_run.get_id(), "actor": ctx.actor},
        },
    )


def mark_crashed(run_id: str, message: str) -> None:
    """Set a flow run that is still Pending, Running or Paused to Crashed."""
    with prefect_client() as client:
        try:
            run = client.read_flow_run(UUID(run_id))
        except ObjectNotFound:
            return
        if run.state is None or not run.state.is_final():
            client.set_flow_run_state(run_id, Crashed(message=message), force=True)
