"""Blue-green: the new release starts beside the old one and takes all traffic at once.

The previous release stays warm (running, unrouted), so rolling back to it is a route switch;
anything older is stopped. If the new release is unfit it is stopped before any traffic
moves, and the old one keeps serving.
"""

from __future__ import annotations

from collections.abc import Sequence

from releasegate.release import Release
from releasegate.targets.base import Probe
from releasegate.targets.local.runtime import Runtime
from releasegate.targets.local.state import Instance


def deploy(rt: Runtime, release: Release, probe: Probe) -> None:
    live = rt.by_role("live", "canary")
    colour = "green" if live and live[0].colour == "blue" else "blue"
    new = rt.start(release, rt.config.replicas, probe, role="starting", colour=colour)
    switch(rt, new, keep_warm=live)


def switch(rt: Runtime, to: Sequence[Instance], *, keep_warm: Sequence[Instance]) -> None:
    """Route all traffic to `to` in one step; keep `keep_warm` running; stop everything else."""
    rt.route({i.id: 1 for i in to})
    rt.keep_only([*to, *keep_warm])
