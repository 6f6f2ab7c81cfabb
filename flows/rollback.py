"""Rollback: restore an earlier version of one environment, by default the previous good one."""

from __future__ import annotations

from prefect import flow

from releasegate import config as configuration
from releasegate.audit.record import ApprovalEntry, AuditRecord, release_of
from releasegate.errors import Blocked, UsageError
from releasegate.policy.quarantine import Quarantine, of_artifact
from releasegate.policy.rollback import Served, admitted, choose, moved_on
from releasegate.signing.trigger import Asked
from releasegate.targets.base import Deployed
from releasegate.tasks.approvals import await_approvals
from releasegate.tasks.audit import publish_summary
from releasegate.tasks.break_glass import asking_to_override
from releasegate.tasks.change import apply_change
from releasegate.tasks.context import RunContext
from releasegate.tasks.gates import check_windows
from releasegate.tasks.lock import holder_of
from releasegate.tasks.quarantine import quarantine, quarantined, release
from releasegate.tasks.reconcile import one_change, serving_now
from releasegate.tasks.rerun import chosen_before
from releasegate.tasks.trigger import establish
from releasegate.trigger import TriggerProof
from releasegate.vocabulary import EnvironmentName, Name, Reason, Version


@flow(name="rollback", flow_run_name="rollback {environment}")
def rollback(
    environment: EnvironmentName,
    reason: Reason,
    to: Version | None = None,
    actor: Name | None = None,
    proof: TriggerProof | None = None,
    release_quarantine: bool = False,
) -> str:
    """Make `to` (a version, or a past flow-run id) live again; by default the previous
    successful version that differs from the current one. Returns the version restored.

    Any actor may roll back (on-call must act fast), but a claimed one is recorded as a
    claim. Rerun (Prefect's Retry), it restores what its first attempt chose, recorded as
    a new rollback by whoever serves it (a claim: Prefect does not say who pressed Retry).
    The configuration is the serving process's own, never a parameter.

    Args:
        environment: The environment to roll back (fixed by each rollback deployment).
        reason: Why you roll back: recorded in the audit trail and shown in its history.
        to: Empty: the previous good version. Or a version (v1) or a past flow-run id.
        actor: Your name. Typed in a form it proves nothing: it is recorded and shown as
            claimed ("carol (claimed)"), never as proven; `releasegate rollback --sign`
            proves it.
        proof: Leave empty in the UI: `releasegate rollback --sign` fills it with a signed
            request that the run verifies.
        release_quarantine: Only when `to` is quarantined here: roll back to it anyway,
            releasing it from quarantine (recorded with the reason).
    """
    settings = configuration.load()
    if environment not in settings.environments:
        known = ", ".join(settings.environments)
        raise UsageError(f"no environment {environment!r} (configured: {known})")
    asked = Asked(request="rollback", environment=environment, version=to, reason=reason)
    ctx = RunContext.open(settings)
    before = chosen_before(ctx, environment)
    ctx = establish(ctx, asked, actor, proof)
    # A rollback during a freeze breaks the glass: allowed, recorded and notified as an
    # override, with the break-glass rule's signed approvals first when it asks for some.
    ctx = asking_to_override(ctx, reason, proof, rollback=True)
    frozen = check_windows(ctx, environment, to or "the previous good version", "before rollback")
    rule = settings.environments[environment].break_glass
    policy = rule.approvals(None) if frozen and rule else None
    # A default rollback undoes what is live, or under way, when it is asked for: seen now,
    # checked again once the environment is held (a second engineer's rollback must not undo
    # the first's).
    undo_live = to is None and before is None
    now = serving_now(ctx, environment) if undo_live or policy is not None else None
    holder = holder_of(ctx.config.app.name, environment) if undo_live else None
    counted: list[ApprovalEntry] = []
    if policy is not None:  # approvals come before the hold
        planned, _ = pick(ctx, environment, to, release_quarantine, _digest(now), before)
        counted = await_approvals(ctx, environment, release_of(planned), None, policy=policy)
    with one_change(ctx, environment, f"rollback of {environment}") as live:
        stale = undo_live and moved_on(
            environment,
            _served(now),
            _served(live),
            under_way=holder.flow_run_id if holder else None,
            newest=ctx.store.newest(environment),
        )
        if stale:
            raise Blocked(stale)
        # Chosen inside the hold, from what the target serves now (a rerun: what its first
        # attempt chose); never a quarantined version unless the person says so.
        change, held = pick(ctx, environment, to, release_quarantine, _digest(live), before)
        if policy is not None and change.artifact != planned.artifact:
            raise Blocked(
                f"{environment} changed while the break-glass approvals were given: they "
                f"approved {planned.version}, the rollback would now go to {change.version}"
            )
        if held is not None:
            release(ctx, held, f"rolled back to by {ctx.who}: {reason}")
        why = f"break-glass during a freeze: {reason}" if frozen else reason
        why = why if before is None else rerun(ctx, why)
        restore(ctx, environment, change, why, live, tuple(counted))
    return change.version or ""


def put_back(ctx: RunContext, reached: dict[str, AuditRecord]) -> str:
    """Prefect's Retry of a deploy run that went live: its release (the recorded digest, no
    rebuild) back in every environment it reached, each as a rollback taking the path any
    rollback takes (a trigger of its own, the freeze's break-glass rule, never a
    quarantined artifact, one change per environment, what it moves away from
    quarantined). Returns the digest."""
    first = next(iter(reached.values()))
    reason = rerun(ctx, f"put back {first.version} as deployed by flow run {first.flow_run_id}")
    asked = Asked(request="rollback", version=first.version, reason=reason)
    # Whoever pressed Retry is a claim: a freeze lets it through only where the rule lets
    # anyone roll back.
    ctx = establish(ctx, asked, None, None)
    for environment, change in reached.items():
        why = unattended(ctx, environment, change, reason, "a Retry")
        with one_change(ctx, environment, f"rollback of {environment}") as live:
            admitted(change, environment, quarantined(ctx, environment), False)
            restore(ctx, environment, change, why, live)
    return first.artifact or ""


def unattended(
    ctx: RunContext, environment: str, change: AuditRecord, reason: str, who: str
) -> str:
    """The reason to record for a rollback to `change` that no person asked for and nobody
    can approve (`who`: a Retry, a self-heal), checked against the calendar: through a
    freeze only as the break-glass rule lets anyone through (an override, recorded and
    notified); Blocked where the rule names who may, or asks for approvals."""
    ctx = asking_to_override(ctx, reason, None, rollback=True)
    frozen = check_windows(ctx, environment, change.version or "?", "before rollback")
    rule = ctx.config.environments[environment].break_glass
    if frozen and rule is not None and rule.approvals(None) is not None:
        raise Blocked(
            f"{environment}: a rollback during this freeze needs the break-glass approvals, "
            f"which {who} does not ask for: `releasegate rollback {environment} --to "
            f"{change.flow_run_id} --reason ... --sign`"
        )
    return f"break-glass during a freeze: {reason}" if frozen else reason


def rerun(ctx: RunContext, reason: str) -> str:
    """The reason a rerun records: the first attempt's, and that this is a rerun."""
    return f"{reason} (rerun: attempt {ctx.attempt} of this flow run, started by a Retry)"


def pick(
    ctx: RunContext,
    environment: str,
    to: str | None,
    release_quarantine: bool,
    live: str | None = None,
    before: AuditRecord | None = None,
) -> tuple[AuditRecord, Quarantine | None]:
    """The change to restore (`policy.rollback.choose`; on a rerun, `before`: what the first
    attempt chose), and the quarantine that rolling back to it releases (only when the
    person said so)."""
    kept_out = quarantined(ctx, environment)
    if before is not None:
        change = admitted(before, environment, kept_out, release_quarantine)
    else:
        change = choose(
            ctx.store.newest(environment),
            environment,
            to,
            live=live,
            quarantined=kept_out,
            release_quarantine=release_quarantine,
        )
    return change, of_artifact(kept_out, change.artifact or "")


def restore(
    ctx: RunContext,
    environment: str,
    change: AuditRecord,
    reason: str,
    live: Deployed | None,
    approvals: tuple[ApprovalEntry, ...] = (),
) -> None:
    """Make the release `change` deployed live again, and publish how it went. What `live`
    serves now is quarantined first, as the change itself is recorded before it happens: a
    crash in between never leaves a rolled-back version free to return."""
    if live is not None and live.digest != change.artifact:
        why = f"rolled back to {change.version}: {reason}"
        quarantine(ctx, environment, live.version, live.digest, why)
    outcome = "failed"
    try:
        apply_change(
            ctx,
            environment,
            release_of(change),
            kind="rollback",
            reason=reason,
            approvals=approvals,
        )
        outcome = "live"
    finally:
        publish_summary(
            ctx.config.app.name,
            f"rollback {environment} to {change.version}",
            [
                f"digest `{change.artifact}` (first deployed by flow run {change.flow_run_id})",
                f"requested by {ctx.who}: {reason}",
                f"outcome: {outcome}",
            ],
        )


def _served(deployed: Deployed | None) -> Served:
    return (deployed.version, deployed.digest) if deployed else None


def _digest(deployed: Deployed | None) -> str | None:
    return deployed.digest if deployed else None
