"""Rolling: replace the live instances one at a time, never below `replicas` serving.

Each step starts one new instance, checks it, routes it, then takes one old instance out of
the routes, waits until its in-flight requests are done, and stops it. On failure the new
instances are stopped and the old ones still running keep serving (those already replaced
are not restarted, so capacity may be lower until the next deploy). Nothing stays warm: a
rollback is another rollout.
"""

from __future__ import annotations

from releasegate.release import Release
from releasegate.targets.base import Probe, TargetError
from releasegate.targets.local.runtime import Runtime
from releasegate.targets.local.state import Instance


def deploy(rt: Runtime, release: Release, probe: Probe) -> None:
    old = rt.by_role("live", "canary")
    new: list[Instance] = []
    try:
        for _ in range(rt.config.replicas):
            new += rt.start(release, 1, probe, role="starting")
            rt.route({i.id: 1 for i in [*new, *old]})
            if old and len(new) + len(old) > rt.config.replicas:
                rt.stop([old.pop(0)])
    except TargetError:
        rt.stop(new)
        raise
    rt.keep_only(new)
