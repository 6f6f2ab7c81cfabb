"""Session servers for the Kubernetes target: the API emulator, a registry, an ingress.

Each test gets a fresh namespace in the one emulator, so tests never see each other's objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from releasegate.processes import http_ok
from releasegate.release import Release
from releasegate.targets.kubernetes import (
    KubernetesSettings,
    KubernetesTarget,
    RegistryBuilder,
)
from releasegate.targets.kubernetes.bluegreen import COLOR
from tests.support.kube import Ingress, KubeCluster, deployment, object_key, service
from tests.support.registry import Registry

VERSIONS = ("1.0.0", "2.0.0", "3.0.0")
TRACK = "releasegate.io/track"


@pytest.fixture(scope="session")
def cluster() -> Iterator[KubeCluster]:
    with KubeCluster() as c:
        yield c


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    with Registry() as r:
        for version in VERSIONS:
            r.push("webapp", version)
        yield r


@pytest.fixture(scope="session")
def ingress(cluster: KubeCluster) -> Iterator[Ingress]:
    with Ingress(cluster).serving() as i:
        yield i


@pytest.fixture(scope="session")
def releases(registry: Registry) -> dict[str, Release]:
    """Every pushed version, resolved to its digest the way the pipeline's build step does."""
    settings = KubernetesSettings(
        namespace="x", deployment="x", container="x", image=registry.image("webapp"),
        registry_insecure=True,
    )  # fmt: skip
    builder = RegistryBuilder("webapp", settings)
    return {v: builder.build(v, commit="c0ffee", branch="main") for v in VERSIONS}


def probe(url: str) -> bool:
    """What the pipeline's smoke check does, reduced to one real HTTP GET."""
    return http_ok(f"{url}/health")


class Env:
    """One test's namespace: seeds the workload for a strategy and builds targets for it."""

    def __init__(
        self, cluster: KubeCluster, ingress: Ingress, registry: Registry, rel: dict
    ) -> None:
        self.cluster, self.ingress, self.registry, self.releases = cluster, ingress, registry, rel
        self.namespace = f"t-{uuid.uuid4().hex[:8]}"
        cluster.add_namespace(self.namespace)

    def settings(self, **overrides: Any) -> KubernetesSettings:
        values: dict[str, Any] = {
            "kubeconfig": self.cluster.kubeconfig,
            "context": "emulator",
            "namespace": self.namespace,
            "deployment": "web",
            "container": "app",
            "service": "web",
            "preview_service": "web-preview",
            "image": self.registry.image("webapp"),
            "registry_insecure": True,
            "rollout_timeout": 10,
            "poll_interval": 0.05,
            "preview_url": f"{self.ingress.url}/{self.namespace}/web-preview",
            "canary_url": f"{self.ingress.url}/{self.namespace}/web-canary",
            **overrides,
        }
        return KubernetesSettings(**values)

    def target(self, strategy: str, **overrides: Any) -> KubernetesTarget:
        return KubernetesTarget(self.settings(**overrides), "webapp", "staging", strategy)

    def seed(self, strategy: str, version: str = "1.0.0", replicas: int = 2) -> None:
        """The workload as a platform team leaves it, running `version` (deployed by us before)."""
        image = self.releases[version].artifact
        if strategy in ("rolling", "recreate"):
            self._deployment("web", image, version, {"app": "web"}, replicas)
        elif strategy == "blue-green":
            self._deployment("web-blue", image, version, {"app": "web", COLOR: "blue"}, replicas)
            self._deployment("web-green", image, version, {"app": "web", COLOR: "green"}, 0)
            self.cluster.put(
                "services", self.namespace, service("web", {"app": "web", COLOR: "blue"})
            )
            preview = service("web-preview", {"app": "web", COLOR: "green"})
            self.cluster.put("services", self.namespace, preview)
        elif strategy == "canary":
            self._deployment("web", image, version, {"app": "web", TRACK: "stable"}, replicas)
            self._deployment("web-canary", image, version, {"app": "web", TRACK: "canary"}, 0)
            self.cluster.put("services", self.namespace, service("web", {"app": "web"}))
            canary = service("web-canary", {"app": "web", TRACK: "canary"})
            self.cluster.put("services", self.namespace, canary)

    def _deployment(
        self, name: str, image: str, version: str, labels: dict[str, str], replicas: int
    ) -> None:
        manifest = deployment(name, "app", image, labels=labels, replicas=replicas)
        release = self.releases[version]
        manifest["metadata"]["annotations"] = {
            "releasegate.io/version": version,
            "releasegate.io/digest": release.digest,
        }
        self.cluster.put("deployments", self.namespace, manifest)
        # Revision 1: the ReplicaSet the controller would have made for the first rollout.
        key = object_key("deployments", self.namespace, name)
        self.cluster.run(lambda e: e._replicaset_for(e.objects[key].raw))

    def get(self, name: str, resource: str = "deployments") -> dict[str, Any]:
        return self.cluster.get(resource, self.namespace, name)

    def calls(self, verb: str | None = None, resource: str | None = None) -> list:
        return [c for c in self.cluster.calls(verb, resource) if c.namespace == self.namespace]

    def image(self, name: str) -> str:
        return self.get(name)["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.fixture
def env(
    cluster: KubeCluster, ingress: Ingress, registry: Registry, releases: dict[str, Release]
) -> Iterator[Env]:
    e = Env(cluster, ingress, registry, releases)
    yield e
    # Switches are session-wide: leave them as found.
    cluster.run(lambda em: (em.broken_images.clear(), em.forbidden.clear(), em.after_get.clear()))
    ingress.unhealthy_images.clear()


@pytest.fixture
def probe_fn() -> Callable[[str], bool]:
    return probe
