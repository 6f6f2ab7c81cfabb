"""Production gates: gather the facts, let the policy judge them, record the results; a
blocked gate ends the run (exit 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from releasegate.errors import Blocked
from releasegate.policy.gates import (
    Facts,
    GateResult,
    IncidentReading,
    evaluate,
    freeze_gate,
    outdated_gate,
    upstream_deploy,
)
from releasegate.policy.order import LiveChange, live_change
from releasegate.policy.quarantine import of_artifact
from releasegate.release import Release
from releasegate.sources.base import SourceError
from releasegate.sources.settings import IncidentCheck
from releasegate.tasks.context import RunContext
from releasegate.tasks.notify import notify
from releasegate.tasks.quarantine import quarantined
from releasegate.wiring import incident_source

# How far back to look for the upstream deploy of this artifact, or for the change that runs
# now: bounded, so a store with a long history is never read in full for one gate.
LOOKBACK = 500


def gather(ctx: RunContext, environment: str, release: Release) -> Facts:
    """What the gates of `environment` judge, read now: clock, branch, who triggered the run
    and its place in the trigger order, what runs there, the incident source, and the
    upstream deploy of this artifact."""
    env = ctx.config.environments[environment]
    upstream = None
    if env.requires is not None:
        newest = islice(ctx.store.newest(env.requires), LOOKBACK)
        upstream = upstream_deploy(newest, release.digest)
    return order_facts(ctx, environment, release).model_copy(
        update={
            "incidents": _read(env.incidents) if env.incidents is not None else None,
            "upstream_deploy": upstream,
            "quarantine": of_artifact(quarantined(ctx, environment), release.digest),
        }
    )


def order_facts(ctx: RunContext, environment: str, release: Release) -> Facts:
    """The facts the outdated gate judges, and nothing that needs the network: cheap
    enough to read every few seconds while the run waits for approval."""
    trigger = ctx.trigger
    assert trigger is not None
    return Facts(
        now=datetime.now(UTC),
        branch=ctx.branch,
        digest=release.digest,
        version=release.version,
        actor=trigger.actor,
        actor_proof=trigger.proof,
        trigger_seq=trigger.seq,
        live=now_running(ctx, environment),
        override=ctx.override,
    )


def now_running(ctx: RunContext, environment: str) -> LiveChange | None:
    """What `environment` runs now, or is being changed to, per the audit trail."""
    return live_change(islice(ctx.store.newest(environment), LOOKBACK))


@task(cache_policy=NO_CACHE)
def check_gates(ctx: RunContext, environment: str, release: Release, stage: str) -> None:
    """Evaluate, record, and raise Blocked naming the rule and until when if any gate blocks."""
    env = ctx.config.environments[environment]
    _enforce(ctx, environment, release, stage, evaluate(env, gather(ctx, environment, release)))


@task(cache_policy=NO_CACHE)
def check_order(ctx: RunContext, environment: str, release: Release, stage: str) -> None:
    """The outdated gate alone (while waiting for approval: other gates are for the rollout)."""
    env = ctx.config.environments[environment]
    facts = order_facts(ctx, environment, release)
    _enforce(ctx, environment, release, stage, evaluate(env, facts, (outdated_gate,)))


@task(cache_policy=NO_CACHE)
def check_windows(ctx: RunContext, environment: str, version: str, stage: str) -> bool:
    """The deploy calendar alone, when a run starts: a frozen environment stops the run
    before anything is built (the other gates need the artifact). True when a freeze is
    in force and the run's break-glass override lets it through."""
    env = ctx.config.environments[environment]
    facts = Facts(
        now=datetime.now(UTC), branch=ctx.branch, digest="", version=version, override=ctx.override
    )
    results = evaluate(env, facts, (freeze_gate,))
    _enforce(ctx, environment, version, stage, results)
    return any(r.overridden for r in results)


def _enforce(
    ctx: RunContext,
    environment: str,
    what: Release | str,
    stage: str,
    results: list[GateResult],
) -> None:
    """Record every result (for `what`: a release, or a version not built yet), log them,
    and raise Blocked naming the rules that block."""
    blocked = [r for r in results if not r.passed]
    overridden = [r for r in results if r.overridden]
    release = what if isinstance(what, Release) else None
    version = what.version if isinstance(what, Release) else what
    ctx.record(
        "gate",
        environment,
        "blocked" if blocked else "overridden" if overridden else "passed",
        release,
        **({} if release else {"version": version}),
        reason="; ".join(r.message() for r in blocked or overridden) or None,
        details={"stage": stage, "results": [r.model_dump(mode="json") for r in results]},
    )
    logger = get_run_logger()
    for result in results:
        logger.info("%s gate (%s): %s", environment, stage, result.message())
    if overridden and not blocked:
        why = "; ".join(r.message() for r in overridden)
        notify(ctx, environment, "overridden", f"{version}: freeze overridden ({stage})", why,
               level="warning")  # fmt: skip
    if blocked:
        why = "; ".join(r.message() for r in blocked)
        notify(ctx, environment, "blocked", f"{version} blocked ({stage})", why,
               level="warning")  # fmt: skip
        raise Blocked(f"{environment}: {why}")


def _read(check: IncidentCheck) -> IncidentReading:
    try:
        return IncidentReading(answer=incident_source(check).read())
    except SourceError as exc:
        return IncidentReading(error=str(exc))
