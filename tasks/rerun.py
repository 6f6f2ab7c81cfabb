"""Is this flow run a rerun (Prefect's Retry of a finished run), and what did its earlier
attempts do? Read from the audit trail, back to the run's creation only.

Prefect's Retry keeps the flow-run id and the parameters and raises the run count
(`RunContext.attempt`), so a first attempt costs no read at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect.context import FlowRunContext

from releasegate.audit.record import AuditRecord
from releasegate.policy.rerun import chosen, reached
from releasegate.policy.triggers import own_trigger
from releasegate.tasks.context import RunContext
from releasegate.trigger import TRIGGERS


def went_live(ctx: RunContext) -> dict[str, AuditRecord] | None:
    """On a rerun of a deploy run whose release reached the pipeline's last environment:
    its successful deploy record in each environment it reached, in pipeline order. None on
    a first attempt, and for a run that never went all the way (it runs the pipeline again)."""
    if ctx.attempt <= 1:
        return None
    run_id, since = this_run()
    found = {}
    for environment in ctx.config.pipeline():
        if (record := reached(ctx.store.newest(environment), run_id, since=since)) is not None:
            found[environment] = record
    return found if ctx.config.pipeline()[-1] in found else None


def chosen_before(ctx: RunContext, environment: str) -> AuditRecord | None:
    """On a rerun of a rollback run: the change its earlier attempt chose to restore (None on
    a first attempt, or when no attempt got as far as choosing)."""
    if ctx.attempt <= 1:
        return None
    run_id, since = this_run()
    return chosen(ctx.store.newest(environment), run_id, since=since)


def first_trigger(ctx: RunContext) -> AuditRecord | None:
    """On a rerun: the trigger its first attempt recorded (None on a first attempt)."""
    if ctx.attempt <= 1:
        return None
    run_id, since = this_run()
    return own_trigger(ctx.store.newest(TRIGGERS), run_id, since=since)


def this_run() -> tuple[str, datetime]:
    """This run's id and creation time (the earliest any of its records can be)."""
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None, "called inside a flow run"
    run = context.flow_run
    return str(run.id), run.created or datetime.min.replace(tzinfo=UTC)
