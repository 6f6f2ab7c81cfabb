"""canary: a `<name>-canary` Deployment beside the stable one; each step a share of traffic.

Both carry the labels the live Service selects, so traffic splits by ready pod count. A
step of w % runs the pod counts closest to that share, as Argo Rollouts' basic canary
does (utils/replicaset/canary.go: approximateWeightedCanaryStableReplicaCounts): the
canary grows *and* stable shrinks, total N or N+1. The canary's pods also carry
`releasegate.io/track: canary`, which the canary Service selects; `canary_url` reaches it
for the probe between steps. At 100 % stable takes the digest and its full size back.
"""

from __future__ import annotations

import math

from releasegate.release import Release
from releasegate.targets.base import Probe, TargetError
from releasegate.targets.kubernetes.endpoints import passes, settle
from releasegate.targets.kubernetes.workload import Workload

TOTAL = "releasegate.io/replicas"
"""Stable's full size while a canary has it scaled down (a crash must not shrink it for good)."""


def shares(total: int, weight: int) -> tuple[int, int]:
    """(canary pods, stable pods) whose ratio is closest to `weight` % of `total` replicas.

    At least one pod each for 1..99 %; one pod over `total` is allowed (a surge of 1).
    """
    if weight >= 100:
        return total, 0

    def tied(n: int) -> bool:
        return math.modf(n * weight / 100)[0] == 0.5

    ceil, floor = math.ceil(total * weight / 100), math.floor(total * weight / 100)
    options = []
    if ceil < total:
        options.append((ceil, total))
    if not tied(total) and floor:
        options.append((floor, total))
    options.append((ceil, total + 1))
    if not tied(total + 1) and floor:
        options.append((floor, total + 1))
    canary, pods = min(options, key=lambda o: abs(100 * o[0] / o[1] - weight))
    return canary, pods - canary


class Canary:
    """Step the canary's share of traffic up, probing between steps; promote into stable."""

    def deployments(self, w: Workload) -> list[str]:
        return [w.settings.deployment, self._name(w)]

    def live(self, w: Workload) -> str:
        return w.settings.deployment

    def deploy(self, w: Workload, release: Release, probe: Probe) -> None:
        s = w.settings
        stable, canary = s.deployment, self._name(w)
        total = self._total(w)
        w.refuse_paused(stable, canary)
        try:
            for step in s.canary_steps[:-1]:
                self._step(w, release, probe, step, *shares(total, step))
        except TargetError as e:
            w.scale(canary, 0)
            w.wait(stable, w.scale(stable, total, annotations={TOTAL: None}))
            raise TargetError(
                f"{e}; canary scaled to zero, {stable!r} back to {total} pods of its release"
            ) from e
        try:
            w.roll(stable, release, replicas=total, annotations={TOTAL: None})
        finally:
            # Promoted (or failed while promoting): the canary's pods are no longer needed.
            w.scale(canary, 0)

    def _step(
        self, w: Workload, release: Release, probe: Probe, step: int, count: int, rest: int
    ) -> None:
        s = w.settings
        stable, canary = s.deployment, self._name(w)
        # Canary up first, then stable down: capacity never dips below the total.
        canary_pods = w.replicaset_of(w.roll(canary, release, replicas=count))
        stable_dep = w.wait(stable, w.scale(stable, rest, annotations={TOTAL: str(self._total(w))}))
        expected = {canary_pods: count, w.replicaset_of(stable_dep): rest}
        if s.service:
            settle(w.kube, s, s.service, expected)
        settle(w.kube, s, s.canary_service or canary, {canary_pods: count})
        if not passes(probe, s.canary_url or "", s):
            share = count / (count + rest)
            raise TargetError(
                f"canary at {step}% ({count} of {count + rest} pods: {share:.0%} of traffic) "
                "failed its smoke check"
            )

    def rollback(self, w: Workload, release: Release, probe: Probe) -> None:
        """Stop any canary and put stable back on the recorded template, at full size."""
        stable = w.settings.deployment
        total = self._total(w)
        w.refuse_paused(stable)
        w.scale(self._name(w), 0)
        w.wait(stable, w.restore(stable, release, replicas=total, annotations={TOTAL: None}))

    def reap(self, w: Workload) -> None:
        """The canary is already at zero after every deploy."""

    def _total(self, w: Workload) -> int:
        if w.settings.replicas:
            return w.settings.replicas
        dep = w.kube.get_deployment(w.settings.deployment)
        recorded = (dep["metadata"].get("annotations") or {}).get(TOTAL)
        return int(recorded) if recorded else max(1, dep["spec"].get("replicas", 1))

    @staticmethod
    def _name(w: Workload) -> str:
        return f"{w.settings.deployment}-canary"
