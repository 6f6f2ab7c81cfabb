"""Session servers for the Kubernetes target: the cluster emulator and a registry.

Each test gets a fresh namespace in the one emulator (bound to rbac.yaml's ClusterRole by
a RoleBinding, as the file instructs), so tests never see each other's objects. Object
names are the ones rbac.yaml grants: webapp, webapp-blue/-green/-canary, webapp-preview.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from releasegate.release import Release
from releasegate.sources.settings import SmokeCheck
from releasegate.sources.smoke import run_checks
from releasegate.targets.kubernetes.builder import RegistryBuilder
from releasegate.targets.kubernetes.settings import KubernetesSettings
from releasegate.targets.kubernetes.target import KubernetesTarget
from tests.support.kube import KubeCluster, deployment, service
from tests.support.kube.network import Hit
from tests.support.registry import Registry

VERSIONS = ("1.0.0", "2.0.0", "3.0.0")
COLOR = "releasegate.io/color"
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
def releases(registry: Registry, cluster: KubeCluster) -> dict[str, Release]:
    """Every pushed version, resolved to its digest the way the pipeline's build step does."""
    settings = KubernetesSettings(
        namespace="x", deployment="x", container="x", image=registry.image("webapp"),
        registry_insecure=True,
    )  # fmt: skip
    builder = RegistryBuilder("webapp", settings)
    built = {v: builder.build(v, commit="c0ffee", branch="main") for v in VERSIONS}
    # What each image's pods answer on /version.
    cluster.run(lambda e: e.images.versions.update({r.artifact: v for v, r in built.items()}))
    return built


HEALTH_ONLY = (SmokeCheck(path="/health"),)


def probe(url: str) -> bool:
    """The pipeline's smoke check with a `/health`-only check: retried until it passes or 1.5 s.

    /health says nothing about the version: whatever answers passes, old release or new.
    """
    return run_checks(url, HEALTH_ONLY, "", timeout=1.5).passed


class Env:
    """One test's namespace: seeds the workload for a strategy and builds targets for it."""

    def __init__(self, cluster: KubeCluster, registry: Registry, rel: dict[str, Release]) -> None:
        self.cluster, self.registry, self.releases = cluster, registry, rel
        self.namespace = f"t-{uuid.uuid4().hex[:8]}"
        cluster.add_namespace(self.namespace)

    def url(self, service: str) -> str:
        """The Service `service` of this namespace, reached through the emulated network."""
        return f"{self.cluster.proxy_url}/{self.namespace}/{service}"

    def settings(self, **overrides: Any) -> KubernetesSettings:
        values: dict[str, Any] = {
            "kubeconfig": self.cluster.kubeconfig,
            "context": "emulator",
            "namespace": self.namespace,
            "deployment": "webapp",
            "container": "app",
            "service": "webapp",
            "preview_service": "webapp-preview",
            "image": self.registry.image("webapp"),
            "registry_insecure": True,
            "rollout_timeout": 10,
            "poll_interval": 0.05,
            "probe_interval": 0.15,
            "preview_url": self.url("webapp-preview"),
            "canary_url": self.url("webapp-canary"),
            **overrides,
        }
        return KubernetesSettings(**values)

    def target(self, strategy: str, **overrides: Any) -> KubernetesTarget:
        return KubernetesTarget(self.settings(**overrides), "webapp", "staging", strategy)

    def seed(self, kind: str, version: str = "1.0.0", replicas: int = 2, **kw: Any) -> None:
        """The workload as a platform team leaves it, running `version` (deployed by us before),
        rolled out and routed. `kw` goes to the Deployment manifests."""
        image = self.releases[version].artifact
        put = self.cluster.put
        if kind in ("rolling", "recreate"):
            self._deployment("webapp", image, version, {"app": "webapp"}, replicas, **kw)
            put("services", self.namespace, service("webapp", {"app": "webapp"}))
        elif kind == "blue-green":
            blue, green = {"app": "webapp", COLOR: "blue"}, {"app": "webapp", COLOR: "green"}
            self._deployment("webapp-blue", image, version, blue, replicas, **kw)
            self._deployment("webapp-green", image, version, green, 0, **kw)
            put("services", self.namespace, service("webapp", blue))
            put("services", self.namespace, service("webapp-preview", green))
        elif kind == "canary":
            stable, canary = {"app": "webapp", TRACK: "stable"}, {"app": "webapp", TRACK: "canary"}
            self._deployment("webapp", image, version, stable, replicas, **kw)
            self._deployment("webapp-canary", image, version, canary, 0, **kw)
            put("services", self.namespace, service("webapp", {"app": "webapp"}))
            put("services", self.namespace, service("webapp-canary", canary))
        self.cluster.wait_settled(self.namespace)

    def _deployment(
        self, name: str, image: str, version: str, labels: dict[str, str], replicas: int,
        **kw: Any,
    ) -> None:  # fmt: skip
        manifest = deployment(name, "app", image, labels=labels, replicas=replicas, **kw)
        manifest["metadata"]["annotations"] = {
            "releasegate.io/version": version,
            "releasegate.io/digest": self.releases[version].digest,
        }
        self.cluster.put("deployments", self.namespace, manifest)

    def get(self, name: str, resource: str = "deployments") -> dict[str, Any]:
        return self.cluster.get(resource, self.namespace, name)

    def change(self, name: str, fn: Any, resource: str = "deployments") -> None:
        self.cluster.change(resource, self.namespace, name, fn)

    def calls(self, verb: str | None = None, resource: str | None = None) -> list:
        return [c for c in self.cluster.calls(verb, resource) if c.namespace == self.namespace]

    def hits(self, service: str) -> list[Hit]:
        """Requests that went through Service `service`, with the pod that answered each."""
        prefix = f"/{self.namespace}/{service}/"
        return [h for h in self.cluster.api.proxy.hits if h.path.startswith(prefix)]

    def endpoints(self, service: str) -> list[str]:
        return self.cluster.endpoints(self.namespace, service)

    def image(self, name: str) -> str:
        return self.get(name)["spec"]["template"]["spec"]["containers"][0]["image"]

    def selector(self, service: str) -> dict[str, str]:
        return self.get(service, "services")["spec"]["selector"]


@pytest.fixture
def env(cluster: KubeCluster, registry: Registry, releases: dict[str, Release]) -> Iterator[Env]:
    e = Env(cluster, registry, releases)
    yield e

    # Switches are session-wide: leave them as found; the namespace's pods stop.
    def reset(em: Any) -> None:
        em.images.clear()
        em.denials.clear()
        em.after_get.clear()
        em.sync_period = 0.05

    cluster.run(reset)
    cluster.drop_namespace(e.namespace)
