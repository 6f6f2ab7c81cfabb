"""What a release train takes: read the upstream trail, the quarantine and what runs now,
and let the policy choose (`policy.promotion.choose`)."""

from __future__ import annotations

from itertools import islice

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from releasegate.policy.order import live_change
from releasegate.policy.promotion import Choice, choose
from releasegate.tasks.context import RunContext
from releasegate.tasks.gates import LOOKBACK
from releasegate.tasks.quarantine import quarantined
from releasegate.wiring import open_target


@task(cache_policy=NO_CACHE)
def pick(ctx: RunContext, environment: str) -> Choice:
    """The upstream deploy to promote into `environment`, or why there is none."""
    upstream = ctx.config.environments[environment].requires
    assert upstream is not None  # the configuration requires it of a release train
    served = open_target(ctx.config, environment).current()
    choice = choose(
        islice(ctx.store.newest(upstream), LOOKBACK),
        upstream=upstream,
        environment=environment,
        live=live_change(islice(ctx.store.newest(environment), LOOKBACK)),
        live_digest=served.digest if served else None,
        quarantine=quarantined(ctx, environment),
    )
    logger = get_run_logger()
    for skipped in choice.skipped:
        logger.warning("%s: skipped %s", environment, skipped)
    logger.info("%s: %s", environment, choice.reason)
    return choice
