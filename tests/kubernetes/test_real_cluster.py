"""Opt-in: the rolling deploy, a stuck rollout and the rollback against a real cluster.

Set RELEASEGATE_TEST_KUBECONFIG (and optionally RELEASEGATE_TEST_CONTEXT,
RELEASEGATE_TEST_NAMESPACE [default "releasegate-test", must exist],
RELEASEGATE_TEST_IMAGE [default "registry.k8s.io/pause"], RELEASEGATE_TEST_TAGS
[default "3.9,3.10"]). The test creates and deletes a Deployment "releasegate-e2e", so its
credentials need create/delete on deployments in that namespace beyond rbac.yaml.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from releasegate.targets.base import TargetError
from releasegate.targets.kubernetes import KubernetesSettings, KubernetesTarget, RegistryBuilder
from releasegate.targets.kubernetes.client import api_client

KUBECONFIG = os.environ.get("RELEASEGATE_TEST_KUBECONFIG")

pytestmark = pytest.mark.skipif(
    not KUBECONFIG, reason="RELEASEGATE_TEST_KUBECONFIG is not set: no real cluster to test against"
)


def test_rolling_deploy_stuck_rollout_and_rollback_on_a_real_cluster() -> None:
    from kubernetes import client

    namespace = os.environ.get("RELEASEGATE_TEST_NAMESPACE", "releasegate-test")
    image = os.environ.get("RELEASEGATE_TEST_IMAGE", "registry.k8s.io/pause")
    old_tag, new_tag = os.environ.get("RELEASEGATE_TEST_TAGS", "3.9,3.10").split(",")
    settings = KubernetesSettings(
        kubeconfig=Path(KUBECONFIG or ""),
        context=os.environ.get("RELEASEGATE_TEST_CONTEXT"),
        namespace=namespace,
        deployment="releasegate-e2e",
        container="app",
        image=image,
        rollout_timeout=180,
        poll_interval=1,
    )
    builder = RegistryBuilder("e2e", settings)
    old, new = builder.build(old_tag), builder.build(new_tag)
    apps = client.AppsV1Api(api_client(settings))
    labels = {"app": "releasegate-e2e"}
    apps.create_namespaced_deployment(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "releasegate-e2e", "labels": labels},
            "spec": {
                "replicas": 2,
                "progressDeadlineSeconds": 20,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": old.artifact}]},
                },
            },
        },
    )
    try:
        target = KubernetesTarget(settings, "e2e", "e2e", "rolling")
        target.rollback(old, lambda url: True)  # waits for the initial rollout, records it
        target.deploy(new, lambda url: True)
        assert target.current().digest == new.digest

        # An image that cannot be pulled never becomes available: the progress deadline fires.
        missing = new.model_copy(
            update={"digest": "sha256:" + "0" * 64, "artifact": f"{image}@sha256:{'0' * 64}",
                    "version": f"missing-{uuid.uuid4().hex[:6]}"}
        )  # fmt: skip
        with pytest.raises(TargetError, match="progress deadline"):
            target.deploy(missing, lambda url: True)
        target.rollback(old, lambda url: True)
        assert target.current().digest == old.digest
        assert len(target.snapshot()["replicasets"]) >= 3
    finally:
        apps.delete_namespaced_deployment("releasegate-e2e", namespace)
