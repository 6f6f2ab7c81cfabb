"""Canary: one instance of the new release takes a growing share of the traffic.

The canary gets each percentage of `canary_steps` in turn and is probed after every step.
After the last step the rest of the new release starts and takes all traffic; the previous
release then stays warm, as in blue-green, so a rollback is a route switch. On failure the
canary is stopped and the stable instances, never stopped or restarted, get all traffic back.
With nothing live yet there is nothing to compare with: the release goes out blue-green.
"""

from __future__ import annotations

from collections.abc import Sequence

from releasegate.release import Release
from releasegate.targets.base import Probe, TargetError
from releasegate.targets.local import bluegreen
from releasegate.targets.local.runtime import Runtime
from releasegate.targets.local.state import Instance


def deploy(rt: Runtime, release: Release, probe: Probe) -> None:
    stable = rt.by_role("live")
    if not stable:
        bluegreen.deploy(rt, release, probe)
        return
    [canary] = rt.start(release, 1, probe, role="canary")
    try:
        for percent in rt.config.canary_steps:
            rt.route(weights(stable, canary, percent))
            rt.check(canary, probe)
        rest = rt.start(release, rt.config.replicas - 1, probe, role="starting")
    except TargetError:
        rt.route({i.id: 1 for i in stable})
        rt.stop([canary])
        raise
    canary.role = "live"
    bluegreen.switch(rt, [canary, *rest], keep_warm=stable)


def weights(stable: Sequence[Instance], canary: Instance, percent: int) -> dict[str, int]:
    """Weights giving `canary` `percent`% of the traffic and the stable instances the rest."""
    # Integer weights: canary p*n against (100-p) for each of the n stable instances.
    return {canary.id: percent * len(stable)} | {i.id: 100 - percent for i in stable}
