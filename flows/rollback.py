"""Rollback: restore an earlier version of one environment, by default the previous good one."""

from __future__ import annotations

from prefect import flow

from releasegate import config as configuration
from releasegate.audit.record import release_of
from releasegate.errors import UsageError
from releasegate.policy.rollback import choose
from releasegate.tasks.audit import publish_summary
from releasegate.tasks.change import apply_change
from releasegate.tasks.context import RunContext, default_actor


@flow(name="rollback", flow_run_name="rollback {environment}")
def rollback(
    environment: str,
    reason: str,
    to: str | None = None,
    actor: str | None = None,
    config: str | None = None,
) -> str:
    """Make `to` (a version, or a past flow-run id) live again; by default the previous
    successful version that differs from the current one. Returns the version restored."""
    settings = configuration.load(config)
    if environment not in settings.environments:
        known = ", ".join(settings.environments)
        raise UsageError(f"no environment {environment!r} (configured: {known})")
    if not reason.strip():
        raise UsageError("a rollback needs a reason")
    ctx = RunContext.open(settings, actor or default_actor())
    change = choose(ctx.store.newest(environment), environment, to)
    outcome = "failed"
    try:
        apply_change(ctx, environment, release_of(change), kind="rollback", reason=reason)
        outcome = "live"
    finally:
        publish_summary(
            settings.app.name,
            f"rollback {environment} to {change.version}",
            [
                f"digest `{change.artifact}` (first deployed by flow run {change.flow_run_id})",
                f"requested by {ctx.actor}: {reason}",
                f"outcome: {outcome}",
            ],
        )
    return change.version or ""
