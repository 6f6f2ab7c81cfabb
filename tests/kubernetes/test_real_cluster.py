"""Opt-in: every strategy, stuck and paused rollouts, and the shipped RBAC on a real cluster.

Enabled by RELEASEGATE_TEST_KUBECONFIG (a kubeconfig allowed to create namespaces, RBAC
objects and ServiceAccount tokens, e.g. kind's); optional: RELEASEGATE_TEST_CONTEXT,
RELEASEGATE_TEST_IMAGE (default registry.k8s.io/e2e-test-images/agnhost, run as
`netexec --http-port=8080`), RELEASEGATE_TEST_TAGS (default "2.52,2.53"),
RELEASEGATE_TEST_PROBE_PATH (default /hostname: it answers with the pod's name, so the test
sees which pod answered each probe), RELEASEGATE_TEST_REGISTRY_INSECURE=1 for a plain-HTTP
registry (kind's local registry).

Each test gets a namespace `releasegate-e2e-<random>`. rbac.yaml is applied as its header
says (its ServiceAccount and ClusterRole once, a RoleBinding in the test namespace) and the
target runs with a token of that ServiceAccount: the shipped permissions, nothing more.
Probes go through the API server's Service proxy, which routes by the Service's endpoints.
Everything created in the namespace is deleted with it. README: "Against a real cluster".
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from releasegate.release import Release
from releasegate.targets.base import TargetError
from releasegate.targets.kubernetes.builder import RegistryBuilder
from releasegate.targets.kubernetes.settings import KubernetesSettings
from releasegate.targets.kubernetes.target import KubernetesTarget
from tests.support.kube import deployment, service

KUBECONFIG = os.environ.get("RELEASEGATE_TEST_KUBECONFIG")
CONTEXT = os.environ.get("RELEASEGATE_TEST_CONTEXT")
IMAGE = os.environ.get("RELEASEGATE_TEST_IMAGE", "registry.k8s.io/e2e-test-images/agnhost")
TAGS = os.environ.get("RELEASEGATE_TEST_TAGS", "2.52,2.53").split(",")
PROBE_PATH = os.environ.get("RELEASEGATE_TEST_PROBE_PATH", "/hostname")
INSECURE = os.environ.get("RELEASEGATE_TEST_REGISTRY_INSECURE") == "1"
RBAC = Path(__file__).resolve().parents[2] / "deployments" / "kubernetes" / "rbac.yaml"
COLOR, TRACK = "releasegate.io/color", "releasegate.io/track"

pytestmark = pytest.mark.skipif(
    not KUBECONFIG, reason="RELEASEGATE_TEST_KUBECONFIG is not set: no real cluster to test against"
)


@dataclass
class Cluster:
    """One test's namespace on the real cluster, as admin and as rbac.yaml's worker."""

    admin: Any
    namespace: str
    kubeconfig: Path
    releases: dict[str, Release]
    answered: list[tuple[str, str | None]] = field(default_factory=list)

    def target(self, strategy: str, **overrides: Any) -> KubernetesTarget:
        values: dict[str, Any] = {
            "kubeconfig": self.kubeconfig, "namespace": self.namespace, "deployment": "webapp",
            "container": "app", "service": "webapp", "preview_service": "webapp-preview",
            "preview_url": "webapp-preview", "canary_url": "webapp-canary", "image": IMAGE,
            "rollout_timeout": 240, "poll_interval": 1, "probe_interval": 1,
            "registry_insecure": INSECURE, **overrides,
        }  # fmt: skip
        return KubernetesTarget(KubernetesSettings(**values), "e2e", "e2e", strategy)

    def probe(self, url: str) -> bool:
        """GET PROBE_PATH of Service `url` through the API server; retried for 30 s like a smoke
        check. Records which pod answered."""
        from kubernetes import client

        core = client.CoreV1Api(self.admin)
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = core.connect_get_namespaced_service_proxy_with_path(
                    f"{url}:80", self.namespace, PROBE_PATH.lstrip("/"), _preload_content=False
                )
                self.answered.append((url, answer.data.decode().strip()))
                return True
            except client.exceptions.ApiException:
                if time.monotonic() > deadline:
                    self.answered.append((url, None))
                    return False
                time.sleep(1)

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        from kubernetes import client

        if kind == "deployments":
            client.AppsV1Api(self.admin).create_namespaced_deployment(self.namespace, obj)
        else:
            client.CoreV1Api(self.admin).create_namespaced_service(self.namespace, obj)

    def get(self, name: str) -> dict[str, Any]:
        from kubernetes import client

        apps = client.AppsV1Api(self.admin)
        answer = apps.read_namespaced_deployment(name, self.namespace, _preload_content=False)
        return dict(json.loads(answer.data))

    def patch(self, name: str, body: dict[str, Any]) -> None:
        from kubernetes import client

        client.AppsV1Api(self.admin).patch_namespaced_deployment(
            name, self.namespace, body, _content_type="application/merge-patch+json"
        )

    def seed(self, kind: str, replicas: int = 2, deadline: int = 120) -> None:
        v1 = self.releases[TAGS[0]].artifact

        def app(name: str, labels: dict[str, str], n: int) -> None:
            manifest = deployment(name, "app", v1, labels=labels, replicas=n, pre_stop=5,
                                  progress_deadline=deadline)  # fmt: skip
            container = manifest["spec"]["template"]["spec"]["containers"][0]
            container["args"] = ["netexec", "--http-port=8080"]
            container["ports"] = [{"containerPort": 8080}]
            manifest["metadata"]["annotations"] = {"releasegate.io/version": TAGS[0]}
            self.apply("deployments", manifest)

        if kind in ("rolling", "recreate"):
            app("webapp", {"app": "webapp"}, replicas)
            self.apply("services", service("webapp", {"app": "webapp"}))
        elif kind == "blue-green":
            app("webapp-blue", {"app": "webapp", COLOR: "blue"}, replicas)
            app("webapp-green", {"app": "webapp", COLOR: "green"}, 0)
            self.apply("services", service("webapp", {"app": "webapp", COLOR: "blue"}))
            # Preview left on the live colour, as after a rollback: the lagging-route case.
            self.apply("services", service("webapp-preview", {"app": "webapp", COLOR: "blue"}))
        else:
            app("webapp", {"app": "webapp", TRACK: "stable"}, replicas)
            app("webapp-canary", {"app": "webapp", TRACK: "canary"}, 0)
            self.apply("services", service("webapp", {"app": "webapp"}))
            self.apply("services", service("webapp-canary", {"app": "webapp", TRACK: "canary"}))


@pytest.fixture(scope="module")
def admin() -> Any:
    from kubernetes import config

    return config.new_client_from_config(KUBECONFIG, context=CONTEXT)


@pytest.fixture(scope="module")
def releases() -> dict[str, Release]:
    settings = KubernetesSettings(
        namespace="x", deployment="x", container="x", image=IMAGE, registry_insecure=INSECURE
    )
    builder = RegistryBuilder("e2e", settings)
    return {tag: builder.build(tag) for tag in TAGS}


def _apply_rbac(admin: Any, namespace: str) -> dict[str, Any]:
    """rbac.yaml as its header says: ServiceAccount and ClusterRole once, a RoleBinding here."""
    from kubernetes import client

    core, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
    docs = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    binding = copy.deepcopy(next(d for d in docs if d["kind"] == "RoleBinding"))
    binding["metadata"]["namespace"] = namespace
    home = sa["metadata"]["namespace"]
    for create in (
        lambda: core.create_namespace({"metadata": {"name": home}}),
        lambda: core.create_namespaced_service_account(home, sa),
        lambda: rbac.create_cluster_role(role),
    ):
        try:
            create()
        except client.exceptions.ApiException as e:
            if e.status != 409:  # already there from an earlier run
                raise
    rbac.replace_cluster_role(role["metadata"]["name"], role)  # this checkout's rules
    rbac.create_namespaced_role_binding(namespace, binding)
    return sa


@pytest.fixture
def cluster(admin: Any, releases: dict[str, Release], tmp_path: Path) -> Iterator[Cluster]:
    from kubernetes import client

    core = client.CoreV1Api(admin)
    namespace = f"releasegate-e2e-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    try:
        sa = _apply_rbac(admin, namespace)
        token = core.create_namespaced_service_account_token(
            sa["metadata"]["name"], sa["metadata"]["namespace"],
            {"spec": {"expirationSeconds": 3600}},
        ).status.token  # fmt: skip
        cfg = admin.configuration
        cluster_entry: dict[str, Any] = {"server": cfg.host}
        if cfg.ssl_ca_cert:
            cluster_entry["certificate-authority"] = cfg.ssl_ca_cert
        if not cfg.verify_ssl:
            cluster_entry["insecure-skip-tls-verify"] = True
        kubeconfig = tmp_path / "worker.kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "worker",
            "clusters": [{"name": "c", "cluster": cluster_entry}],
            "users": [{"name": "worker", "user": {"token": token}}],
            "contexts": [{"name": "worker", "context": {"cluster": "c", "user": "worker"}}],
        }))  # fmt: skip
        yield Cluster(admin, namespace, kubeconfig, releases)
    finally:
        core.delete_namespace(namespace)


def _release(c: Cluster, i: int) -> Release:
    return c.releases[TAGS[min(i, len(TAGS) - 1)]]


def test_rolling_then_rollback_restores_the_whole_template(cluster: Cluster) -> None:
    cluster.seed("rolling")
    recorded = cluster.get("webapp")["spec"]["template"]
    target = cluster.target("rolling")
    target.rollback(_release(cluster, 0), cluster.probe)  # waits for the first rollout
    target.deploy(_release(cluster, 1), cluster.probe)
    assert target.current().digest == _release(cluster, 1).digest
    cluster.patch("webapp", {"spec": {"template": {"metadata": {"annotations": {"x": "y"}}}}})

    target.rollback(_release(cluster, 0), cluster.probe)

    assert cluster.get("webapp")["spec"]["template"] == recorded


def test_recreate_on_a_real_cluster(cluster: Cluster) -> None:
    cluster.seed("recreate")
    target = cluster.target("recreate")
    target.deploy(_release(cluster, 1), cluster.probe)
    assert cluster.get("webapp")["spec"]["strategy"] == {"type": "Recreate"}
    assert target.current().digest == _release(cluster, 1).digest


def test_blue_green_counts_only_passes_from_the_new_colour(cluster: Cluster) -> None:
    cluster.seed("blue-green")
    target = cluster.target("blue-green")

    target.deploy(_release(cluster, 1), cluster.probe)

    counted = [pod for url, pod in cluster.answered[-3:] if url == "webapp-preview"]
    assert len(counted) == 3 and all((pod or "").startswith("webapp-green-") for pod in counted)
    assert target.current().digest == _release(cluster, 1).digest
    target.rollback(_release(cluster, 0), cluster.probe)
    assert target.current().digest == _release(cluster, 0).digest


def test_canary_steps_are_shares_of_pods(cluster: Cluster) -> None:
    cluster.seed("canary", replicas=4)
    target = cluster.target("canary", canary_steps=[25, 50, 100])
    sizes: list[tuple[int, int]] = []

    def probe(url: str) -> bool:
        sizes.append((cluster.get("webapp-canary")["spec"]["replicas"],
                      cluster.get("webapp")["spec"]["replicas"]))  # fmt: skip
        return cluster.probe(url)

    target.deploy(_release(cluster, 1), probe)

    assert sizes == [(1, 3)] * 3 + [(2, 2)] * 3
    assert cluster.get("webapp")["spec"]["replicas"] == 4


def test_a_stuck_rollout_of_one_replica_rolls_back(cluster: Cluster) -> None:
    cluster.seed("rolling", replicas=1, deadline=20)
    target = cluster.target("rolling")
    target.rollback(_release(cluster, 0), cluster.probe)
    missing = _release(cluster, 1).model_copy(update={
        "digest": "sha256:" + "0" * 64, "artifact": f"{IMAGE}@sha256:{'0' * 64}",
        "version": "missing"})  # fmt: skip
    with pytest.raises(TargetError, match="progress deadline"):
        target.deploy(missing, cluster.probe)

    target.rollback(_release(cluster, 0), cluster.probe)  # the stale condition must not fail it

    assert target.current().digest == _release(cluster, 0).digest


def test_a_paused_deployment_fails_fast(cluster: Cluster) -> None:
    cluster.seed("rolling")
    cluster.patch("webapp", {"spec": {"paused": True}})
    started = time.monotonic()
    with pytest.raises(TargetError, match="is paused"):
        cluster.target("rolling").deploy(_release(cluster, 1), cluster.probe)
    assert time.monotonic() - started < 30


def test_the_shipped_role_allows_nothing_else(cluster: Cluster) -> None:
    cluster.seed("rolling")
    with pytest.raises(TargetError, match=r"forbidden: cannot get deployments\.apps"):
        cluster.target("rolling", deployment="payments").current()
    wrong: Callable[[], object] = cluster.target("rolling", namespace="default").current
    with pytest.raises(TargetError, match="forbidden"):
        wrong()
