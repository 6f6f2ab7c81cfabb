"""KubernetesTarget: one environment's workload on a cluster, behind the Target protocol."""

from __future__ import annotations

from typing import Any, Protocol

from releasegate.release import Release
from releasegate.targets.base import Deployed, Probe, TargetError
from releasegate.targets.kubernetes import history
from releasegate.targets.kubernetes.bluegreen import BlueGreen
from releasegate.targets.kubernetes.canary import Canary
from releasegate.targets.kubernetes.client import Kube, NotFound
from releasegate.targets.kubernetes.credentials import api_client
from releasegate.targets.kubernetes.recreate import Recreate
from releasegate.targets.kubernetes.rolling import Rolling
from releasegate.targets.kubernetes.settings import KubernetesSettings
from releasegate.targets.kubernetes.workload import Workload, release_of
from releasegate.vocabulary import Strategy as StrategyName


class Strategy(Protocol):
    def deployments(self, w: Workload) -> list[str]: ...
    def live(self, w: Workload) -> str: ...
    def deploy(self, w: Workload, release: Release, probe: Probe) -> None: ...
    def rollback(self, w: Workload, release: Release, probe: Probe) -> None: ...
    def reap(self, w: Workload) -> None: ...


STRATEGIES: dict[StrategyName, type[Strategy]] = {
    "rolling": Rolling,
    "recreate": Recreate,
    "blue-green": BlueGreen,
    "canary": Canary,
}


class KubernetesTarget:
    """Deploys images by digest to a Deployment (or colour pair / canary pair) in one namespace."""

    def __init__(
        self, settings: KubernetesSettings, app: str, environment: str, strategy: StrategyName
    ) -> None:
        self.settings = settings
        self.app = app
        self.environment = environment
        self.strategy_name = strategy
        self._strategy = STRATEGIES[strategy]()
        self._workload: Workload | None = None

    @property
    def workload(self) -> Workload:
        # Built lazily: constructing a target must not need cluster credentials.
        if self._workload is None:
            kube = Kube(api_client(self.settings), self.settings.namespace)
            self._workload = Workload(kube, self.settings)
        return self._workload

    def current(self) -> Deployed | None:
        """The release the live Deployment runs, if releasegate deployed it (annotated)."""
        w = self.workload
        name = self._strategy.live(w)
        dep = w.kube.get_deployment(name)
        image = w.image_of(dep)
        version, digest = release_of(dep, image)
        if version is None or digest is None:
            return None
        revision = (dep["metadata"].get("annotations") or {}).get(history.REVISION)
        return Deployed(
            version=version,
            digest=digest,
            detail={"deployment": name, "image": image, "revision": revision},
        )

    def snapshot(self) -> dict[str, Any]:
        """Namespace, live Deployment, each Deployment's image/replicas/status, RS history."""
        w = self.workload
        deployments: dict[str, Any] = {}
        for name in self._strategy.deployments(w):
            try:
                deployments[name] = _summary(w, w.kube.get_deployment(name))
            except NotFound:
                deployments[name] = None
        services: dict[str, Any] = {}
        for name in filter(None, (self.settings.service, self.settings.preview_service)):
            try:
                services[name] = w.kube.get_service(name)["spec"].get("selector") or {}
            except NotFound:
                services[name] = None
        live = self._strategy.live(w)
        return {
            "target": "kubernetes",
            "environment": self.environment,
            "namespace": self.settings.namespace,
            "strategy": self.strategy_name,
            "live": live,
            "deployments": deployments,
            "services": services,
            "replicasets": [
                history.summary(rs)
                for rs in history.replicasets(w.kube, w.kube.get_deployment(live))
            ],
        }

    def deploy(self, release: Release, probe: Probe) -> None:
        """Roll `release` out with the configured strategy; TargetError leaves rollback possible."""
        self._check(release)
        # Nothing runs between deploys to scale down an idle colour whose delay is over;
        # doing it here bounds how long it lingers. Never before a rollback: that is
        # exactly the warm colour a rollback wants.
        self._strategy.reap(self.workload)
        self._strategy.deploy(self.workload, release, probe)

    def rollback(self, release: Release, probe: Probe) -> None:
        """Make `release` live: a selector switch when warm (blue-green), else a redeploy."""
        self._check(release)
        self._strategy.rollback(self.workload, release, probe)

    def reap(self) -> None:
        """Scale down what only stays up for a quick rollback once its delay is over."""
        self._strategy.reap(self.workload)

    def _check(self, release: Release) -> None:
        expected = f"{self.settings.image}@{release.digest}"
        if release.artifact != expected:
            raise TargetError(
                f"release {release.version} is {release.artifact!r}; "
                f"this environment deploys {expected!r} (image by digest)"
            )


def _summary(w: Workload, dep: dict[str, Any]) -> dict[str, Any]:
    image = w.image_of(dep)
    version, digest = release_of(dep, image)
    status = dep.get("status") or {}
    return {
        "image": image,
        "version": version,
        "digest": digest,
        "replicas": dep["spec"].get("replicas", 1),
        "available": status.get("availableReplicas", 0),
        "generation": dep["metadata"].get("generation"),
        "revision": (dep["metadata"].get("annotations") or {}).get(history.REVISION),
    }
