"""canary: a `<name>-canary` Deployment beside the stable one, stepped by replica ratio.

Both carry the labels the live Service selects, so traffic splits roughly by pod count.
The canary's own pods also carry `releasegate.io/track: canary` (in its template), which a
canary Service selects; `canary_url` reaches that Service for the probe between steps.
"""

from __future__ import annotations

import math

from releasegate.release import Release
from releasegate.targets.base import Probe, TargetError
from releasegate.targets.kubernetes.workload import Workload


class Canary:
    """Step the canary up, probing between steps; promote into stable at 100%."""

    def deployments(self, w: Workload) -> list[str]:
        return [w.settings.deployment, self._name(w)]

    def live(self, w: Workload) -> str:
        return w.settings.deployment

    def deploy(self, w: Workload, release: Release, probe: Probe) -> None:
        s = w.settings
        stable, canary = s.deployment, self._name(w)
        total = s.replicas or max(1, w.kube.get_deployment(stable)["spec"].get("replicas", 1))
        try:
            for step in s.canary_steps[:-1]:
                count = max(1, math.ceil(total * step / 100))
                w.roll(canary, release, replicas=count)
                if not probe(s.canary_url or ""):
                    raise TargetError(f"canary at {step}% ({count} pods) failed its smoke check")
        except TargetError as e:
            w.scale(canary, 0)
            raise TargetError(f"{e}; canary scaled to zero, {stable!r} untouched") from e
        try:
            w.roll(stable, release)
        finally:
            # Promoted (or failed while promoting): the canary's pods are no longer needed.
            w.scale(canary, 0)

    def rollback(self, w: Workload, release: Release, probe: Probe) -> None:
        """Stop any canary and roll stable to the recorded digest."""
        w.scale(self._name(w), 0)
        w.roll(w.settings.deployment, release)

    def reap(self, w: Workload) -> None:
        """The canary is already at zero after every deploy."""

    @staticmethod
    def _name(w: Workload) -> str:
        return f"{w.settings.deployment}-canary"
