"""Changing what an environment serves: write-ahead record, roll out, verify, record outcome.

Deploys and rollbacks take the same path, so both are recorded and verified alike.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from releasegate import failpoints
from releasegate.audit.record import ApprovalEntry, AuditRecord, utcnow
from releasegate.config import Config
from releasegate.errors import DeployFailed
from releasegate.release import Release
from releasegate.sources.base import SmokeReport
from releasegate.targets.base import Target, TargetError
from releasegate.tasks.audit import publish_smoke, publish_views
from releasegate.tasks.context import RunContext
from releasegate.tasks.lock import held, limit_name
from releasegate.tasks.notify import notify
from releasegate.wiring import open_target, smoke_runner

ChangeKind = Literal["deploy", "rollback"]


@task(cache_policy=NO_CACHE)
def roll_out(
    target: Target, config: Config, environment: str, release: Release, kind: ChangeKind
) -> None:
    """Hand the release to the target; the candidate is smoke-tested before it gets traffic.

    Not retried: a half-done rollout is not safely repeatable, it is rolled back instead.
    """

    def probe(candidate_url: str) -> bool:
        return smoke_runner(config, environment).check(candidate_url, release.version).passed

    (target.deploy if kind == "deploy" else target.rollback)(release, probe)


@task(cache_policy=NO_CACHE)
def verify(ctx: RunContext, environment: str, release: Release) -> SmokeReport:
    """Smoke-test the environment's live URL; publish and record the result."""
    url = ctx.config.environments[environment].url
    report = smoke_runner(ctx.config, environment).check(url, release.version)
    failpoints.hit("during-verify")
    publish_smoke(report, ctx.config.app.name, environment)
    ctx.record(
        "verify",
        environment,
        "passed" if report.passed else "failed",
        release,
        reason=None if report.passed else report.failures(),
        details={"smoke": report.model_dump(mode="json")},
    )
    return report


def apply_change(
    ctx: RunContext,
    environment: str,
    release: Release,
    *,
    kind: ChangeKind,
    reason: str | None = None,
    approvals: tuple[ApprovalEntry, ...] = (),
) -> AuditRecord:
    """Make `release` live in `environment`; raise DeployFailed (already recorded) if not.

    The caller holds the environment (tasks/reconcile.py::one_change), so the state read
    here is the state the change starts from. The "started" record is stored before the
    target is touched: if the store is down nothing changes, and a crash mid-change leaves
    a started-but-unfinished record, closed as interrupted by the next change.
    """
    lock = held(environment).holder
    target = open_target(ctx.config, environment)
    current = target.current()
    shared: dict[str, Any] = {
        "operation_id": uuid.uuid4().hex,
        "reason": reason,
        "approvers": [a.name for a in approvals if a.decision == "approve"],
        "approvals": list(approvals),
        "previous_version": current.version if current else None,
        "details": {
            "before": target.snapshot(),
            "release": release.model_dump(mode="json"),
            "lock": {
                "limit": limit_name(ctx.config.app.name, environment),
                "lease_id": str(lock.lease_id),
                "process": lock.process.describe(),
            },
        },
    }
    if kind == "deploy" and ctx.committed_at is not None:
        shared["details"]["committed_at"] = ctx.committed_at.isoformat()
    started = ctx.record(kind, environment, "started", release, **shared)
    shared["started_at"] = started.started_at
    logger = get_run_logger()
    try:
        roll_out(target, ctx.config, environment, release, kind)
        failpoints.hit("after-switch")
        report = verify(ctx, environment, release)
        shared["details"]["smoke"] = report.model_dump(mode="json")
        if not report.passed:
            raise DeployFailed(f"verification of {environment} failed: {report.failures()}")
    except (TargetError, DeployFailed) as exc:
        failure = f"{kind} of {release.version} to {environment} failed: {exc}"
        logger.error(failure)
        shared["reason"] = f"{reason}; {failure}" if reason else failure
        ctx.record(kind, environment, "failed", release, finished_at=utcnow(), **shared)
        publish_views(ctx.store, ctx.config.app.name, environment, ctx.config.pipeline())
        notify(ctx, environment, "failed", f"{kind} of {release.version} failed", failure,
               level="failure")  # fmt: skip
        raise DeployFailed(failure) from exc
    done = ctx.record(kind, environment, "succeeded", release, finished_at=utcnow(), **shared)
    publish_views(ctx.store, ctx.config.app.name, environment, ctx.config.pipeline())
    logger.info("%s: %s %s is live (%s)", environment, kind, release.version, release.digest)
    was = f" (was {shared['previous_version']})" if shared["previous_version"] else ""
    what = f"{release.version} is live{was}, {kind} by {ctx.who}" + (
        f": {reason}" if reason else ""
    )
    notify(ctx, environment, "deployed" if kind == "deploy" else "rolled-back", what, what,
           level="success" if kind == "deploy" else "warning")  # fmt: skip
    return done
