"""Production gates: gather the facts, let the policy judge them, record the results; a
blocked gate ends the run (exit 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from releasegate.errors import Blocked
from releasegate.policy.gates import Facts, IncidentReading, evaluate, upstream_deploy
from releasegate.release import Release
from releasegate.sources.base import SourceError
from releasegate.sources.settings import IncidentCheck
from releasegate.tasks.context import RunContext
from releasegate.wiring import incident_source

# How far back to look for the upstream deploy of this artifact: bounded, so a store with
# a long history is never read in full for one gate.
UPSTREAM_LOOKBACK = 500


def gather(ctx: RunContext, environment: str, release: Release) -> Facts:
    """What the gates of `environment` judge, read now: clock, branch, the incident source,
    and the upstream deploy of this artifact."""
    env = ctx.config.environments[environment]
    upstream = None
    if env.requires is not None:
        newest = islice(ctx.store.newest(env.requires), UPSTREAM_LOOKBACK)
        upstream = upstream_deploy(newest, release.digest)
    return Facts(
        now=datetime.now(UTC),
        branch=ctx.branch,
        digest=release.digest,
        incidents=_read(env.incidents) if env.incidents is not None else None,
        upstream_deploy=upstream,
    )


@task(cache_policy=NO_CACHE)
def check_gates(ctx: RunContext, environment: str, release: Release, stage: str) -> None:
    """Evaluate, record, and raise Blocked naming the rule and until when if any gate blocks."""
    results = evaluate(ctx.config.environments[environment], gather(ctx, environment, release))
    blocked = [r for r in results if not r.passed]
    ctx.record(
        "gate",
        environment,
        "blocked" if blocked else "passed",
        release,
        reason="; ".join(r.message() for r in blocked) or None,
        details={"stage": stage, "results": [r.model_dump(mode="json") for r in results]},
    )
    logger = get_run_logger()
    for result in results:
        logger.info("%s gate (%s): %s", environment, stage, result.message())
    if blocked:
        raise Blocked(f"{environment}: " + "; ".join(r.message() for r in blocked))


def _read(check: IncidentCheck) -> IncidentReading:
    try:
        return IncidentReading(incidents=tuple(incident_source(check).open_incidents()))
    except SourceError as exc:
        return IncidentReading(error=str(exc))
