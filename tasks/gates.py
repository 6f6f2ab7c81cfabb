"""Production gates, checked and recorded; a blocked gate ends the run (exit 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from releasegate.config import IncidentCheck
from releasegate.errors import Blocked
from releasegate.incidents import IncidentSourceError, open_incidents
from releasegate.policy.gates import (
    GateResult,
    branch_gate,
    freeze_gate,
    incident_gate,
    requires_gate,
)
from releasegate.release import Release
from releasegate.tasks.audit import record
from releasegate.tasks.context import RunContext

# How far back to look for the upstream deploy of this artifact: bounded, so a store with
# a long history is never read in full for one gate.
UPSTREAM_LOOKBACK = 500


def evaluate(
    ctx: RunContext, environment: str, release: Release, now: datetime
) -> list[GateResult]:
    """Every gate of `environment` for `release` at `now`."""
    env = ctx.config.environments[environment]
    results = [branch_gate(ctx.branch, env.branches), freeze_gate(env.calendar, now)]
    if env.incidents is not None:
        results.append(_incidents(env.incidents))
    if env.requires is not None:
        upstream = islice(ctx.store.newest(env.requires), UPSTREAM_LOOKBACK)
        results.append(requires_gate(env.requires, upstream, release.digest))
    return results


@task(cache_policy=NO_CACHE)
def check_gates(ctx: RunContext, environment: str, release: Release, stage: str) -> None:
    """Evaluate, record, and raise Blocked naming the rule and until when if any gate blocks."""
    results = evaluate(ctx, environment, release, datetime.now(UTC))
    blocked = [r for r in results if not r.passed]
    record(
        ctx.store,
        ctx.entry(
            "gate",
            environment,
            "blocked" if blocked else "passed",
            release,
            reason="; ".join(r.message() for r in blocked) or None,
            details={"stage": stage, "results": [r.model_dump(mode="json") for r in results]},
        ),
    )
    logger = get_run_logger()
    for result in results:
        logger.info("%s gate (%s): %s", environment, stage, result.message())
    if blocked:
        raise Blocked(f"{environment}: " + "; ".join(r.message() for r in blocked))


def _incidents(check: IncidentCheck) -> GateResult:
    try:
        return incident_gate(check.url, open_incidents(check), check.block_on)
    except IncidentSourceError as exc:
        return incident_gate(check.url, None, check.block_on, error=str(exc))
