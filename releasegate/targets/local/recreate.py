"""Recreate: stop the old release, then start the new one.

The trade-off: between the stop and the start the environment's URL answers 503, and if the
new release is unfit nothing serves at all (the old instances are gone). Use it when two
versions must never run side by side (e.g. they cannot share a database schema).
"""

from __future__ import annotations

from releasegate.release import Release
from releasegate.targets.base import Probe
from releasegate.targets.local.runtime import Runtime


def deploy(rt: Runtime, release: Release, probe: Probe) -> None:
    rt.keep_only([])
    new = rt.start(release, rt.config.replicas, probe, role="starting")
    rt.route({i.id: 1 for i in new})
