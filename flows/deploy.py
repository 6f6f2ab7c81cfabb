"""The pipeline: build → for each environment in order: gates → approvals → wait timer →
gates again → deploy → verify → record; a failed rollout or verify rolls back."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger
from pydantic import AwareDatetime

from releasegate import config as configuration
from releasegate.audit.record import ApprovalEntry, release_of
from releasegate.errors import DeployFailed
from releasegate.flows.rollback import put_back
from releasegate.policy.approvals import ApprovalPolicy
from releasegate.policy.rollback import AUTOMATIC, previous_good
from releasegate.release import Release
from releasegate.signing.trigger import Asked
from releasegate.sources.base import SmokeReport
from releasegate.tasks.approvals import await_approvals, drop_stale, effective
from releasegate.tasks.audit import publish_summary
from releasegate.tasks.break_glass import asking_to_override
from releasegate.tasks.build import build
from releasegate.tasks.change import apply_change
from releasegate.tasks.context import RunContext
from releasegate.tasks.gates import check_gates, check_windows
from releasegate.tasks.quarantine import quarantine
from releasegate.tasks.reconcile import one_change
from releasegate.tasks.rerun import went_live
from releasegate.tasks.trigger import establish
from releasegate.trigger import TriggerProof
from releasegate.vocabulary import Branch, Commit, Name, Reason, Version


@flow(name="deploy", flow_run_name="deploy {version}")
def deploy(
    version: Version,
    branch: Branch = "main",
    commit: Commit | None = None,
    actor: Name | None = None,
    proof: TriggerProof | None = None,
    override_freeze: Reason | None = None,
    committed_at: AwareDatetime | None = None,
) -> str:
    """Build `version` once and promote it through every environment. Returns its digest.

    Rerun (Prefect's Retry) after it went live, it puts that release back where it went,
    as a rollback; rerun after it failed or was blocked, it runs the pipeline again.

    The configuration is the serving process's own (`--config` / RELEASEGATE_CONFIG), never
    a parameter.

    Args:
        version: The version to build and deploy (a container-tag-like label).
        branch: The branch it was built from (branch gates read it).
        commit: The commit id, for the record.
        actor: Who asks. Typed in a form it proves nothing: it is recorded and shown as
            claimed, never as proven; `releasegate deploy --sign` proves it.
        proof: Leave empty in the UI: `releasegate deploy --sign` fills it with a signed
            request that the run verifies.
        override_freeze: Break-glass: why this deploy goes through a freeze. Part of the
            signed request; holds only when it is signed (see the environment's break_glass).
        committed_at: When the commit was made, as the push says: where the lead time the
            dashboard reports starts (without it, a deploy's lead time is unknown).
    """
    asked = Asked(
        request="deploy", version=version, branch=branch, commit=commit, reason=override_freeze
    )
    ctx = RunContext.open(
        configuration.load(), branch=branch, commit=commit, committed_at=committed_at
    )
    if (reached := went_live(ctx)) is not None:
        return put_back(ctx, reached)
    ctx = establish(ctx, asked, actor, proof)
    if override_freeze is not None:
        ctx = asking_to_override(ctx, override_freeze, proof)
    # Windows are checked when the run starts (nothing built for a frozen environment),
    # before approvals are requested and right before the rollout (`promote`).
    check_windows(ctx, ctx.config.pipeline()[0], version, "at run start")
    release = build(ctx.config, version, commit, branch)
    upstream: SmokeReport | None = None
    done: list[str] = []
    try:
        # An environment with a release train waits for its `promote` run (flows/promote.py).
        for environment in ctx.config.stretch():
            upstream = promote(ctx, environment, release, upstream)
            done.append(environment)
    finally:
        publish_summary(
            ctx.config.app.name,
            f"deploy {release.app} {version}",
            [
                f"digest `{release.digest}`",
                f"triggered by {ctx.who} from {branch}@{commit or '?'}",
                f"live in: {', '.join(done) or 'nowhere'}",
            ],
        )
    return release.digest


def promote(
    ctx: RunContext, environment: str, release: Release, upstream: SmokeReport | None
) -> SmokeReport:
    """One environment's stretch of the pipeline; returns its smoke results for the next."""
    env = ctx.config.environments[environment]
    check_gates(ctx, environment, release, "before approvals")
    # A run that asks to break the glass needs the break-glass approvers too.
    policy = env.break_glass.approvals(env.approvals) if ctx.override and env.break_glass else None
    policy = policy or env.approvals
    counted = await_approvals(ctx, environment, release, upstream, policy=policy) if policy else []
    if env.wait_timer:
        get_run_logger().info("%s: wait timer %s", environment, env.wait_timer)
        time.sleep(env.wait_timer.total_seconds())
    why = f"freeze override asked: {ctx.override.reason}" if ctx.override else None
    fresh = counted
    while True:
        counted = in_effect(ctx, environment, release, upstream, counted, fresh, policy)
        # One change per environment: the final check (outdated versions included), the
        # rollout, its verification and an automatic rollback all happen inside one hold
        # of the environment's lock.
        with one_change(ctx, environment, f"deploy {release.version}"):
            # Waiting for the lock takes time too: approvals that went stale meanwhile are
            # asked for again, outside the hold (a pause never holds an environment).
            if (fresh := drop_stale(ctx, environment, release, counted)) != counted:
                continue
            check_gates(ctx, environment, release, "before rollout")
            try:
                done = apply_change(
                    ctx, environment, release, kind="deploy", approvals=tuple(counted), reason=why
                )
            except DeployFailed:
                if env.on_verify_failure == "rollback":
                    roll_back_automatically(ctx, environment, release)
                raise
            return SmokeReport.model_validate(done.details["smoke"])


def in_effect(
    ctx: RunContext,
    environment: str,
    release: Release,
    upstream: SmokeReport | None,
    counted: list[ApprovalEntry],
    fresh: list[ApprovalEntry],
    policy: ApprovalPolicy | None,
) -> list[ApprovalEntry]:
    """The approvals in effect now: `fresh` (those of `counted` not void) made up to the
    rules (`policy`: the environment's, or the break-glass one) again if some went stale,
    every deferred one's time come, none stale."""
    while True:
        if fresh != counted:
            counted = await_approvals(ctx, environment, release, upstream, fresh, policy=policy)
        # Time passed while people approved and the timer ran (and a deferred approval
        # waits for its time): approvals may have gone stale and a freeze may have begun.
        effective(ctx, environment, counted)
        if (fresh := drop_stale(ctx, environment, release, counted)) == counted:
            return counted


def roll_back_automatically(ctx: RunContext, environment: str, failed: Release) -> None:
    """Restore the previous good version after `failed` did not verify (inside the
    deploy's hold of the environment: never re-acquired)."""
    to = previous_good(ctx.store.newest(environment), failed.version)
    logger = get_run_logger()
    if to is None:
        logger.error("%s: no earlier good version to roll back to", environment)
        return
    logger.warning("%s: rolling back to %s", environment, to.version)
    reason = f"{AUTOMATIC}: {failed.version} failed in {environment}"
    quarantine(ctx, environment, failed.version, failed.digest, reason)  # before: crash-safe
    apply_change(ctx, environment, release_of(to), kind="rollback", reason=reason)
