"""rolling: patch the image; the Deployment controller replaces pods a few at a time."""

from __future__ import annotations

from releasegate.release import Release
from releasegate.targets.base import Probe
from releasegate.targets.kubernetes.workload import Workload


class Rolling:
    """One Deployment, updated in place. Traffic shifts during the rollout, so no probe gate."""

    strategy_type = "RollingUpdate"

    def deployments(self, w: Workload) -> list[str]:
        return [w.settings.deployment]

    def live(self, w: Workload) -> str:
        return w.settings.deployment

    def deploy(self, w: Workload, release: Release, probe: Probe) -> None:
        # A paused Deployment is refused when the patch is planned: nothing is written.
        w.roll(w.settings.deployment, release, strategy_type=self.strategy_type)

    def rollback(self, w: Workload, release: Release, probe: Probe) -> None:
        # The recorded pod template, whole (env, sidecars...), as `kubectl rollout undo` does;
        # the controller reuses its old ReplicaSet.
        name = w.settings.deployment
        w.wait(name, w.restore(name, release, strategy_type=self.strategy_type))

    def reap(self, w: Workload) -> None:
        """Nothing stays warm in place."""
