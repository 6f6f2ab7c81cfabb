"""Pure parts: settings validation and the `kubectl rollout status` logic."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from releasegate.targets.kubernetes import KubernetesSettings, KubernetesTarget
from releasegate.targets.kubernetes.registry import ImageRepository
from releasegate.targets.kubernetes.rollout import RolloutFailed, rollout_status

BASE = {"namespace": "web", "deployment": "web", "container": "app", "image": "ghcr.io/acme/web"}


def test_unknown_keys_and_tagged_images_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        KubernetesSettings(**BASE, replicaz=3)
    with pytest.raises(ValidationError, match="without tag or digest"):
        KubernetesSettings(**{**BASE, "image": "ghcr.io/acme/web:1.0"})
    with pytest.raises(ValidationError, match="end with 100"):
        KubernetesSettings(**BASE, canary_steps=[10, 50])
    with pytest.raises(ValidationError, match="in_cluster excludes"):
        KubernetesSettings(**BASE, in_cluster=True, context="prod")


def test_strategy_needs_are_checked_when_the_target_is_built() -> None:
    settings = KubernetesSettings(**BASE, service="web")
    with pytest.raises(ValueError, match=r"kubernetes\.preview_service, kubernetes\.preview_url"):
        KubernetesTarget(settings, "web", "staging", "blue-green")
    with pytest.raises(ValueError, match=r"kubernetes\.canary_url"):
        KubernetesTarget(settings, "web", "staging", "canary")
    with pytest.raises(ValueError, match="not one of"):
        KubernetesTarget(settings, "web", "staging", "big-bang")
    KubernetesTarget(settings, "web", "staging", "rolling")  # no cluster access at construction


@pytest.mark.parametrize(
    ("image", "registry", "repository"),
    [
        ("ghcr.io/acme/web", "ghcr.io", "acme/web"),
        ("127.0.0.1:5000/web", "127.0.0.1:5000", "web"),
        ("localhost/web", "localhost", "web"),
        ("acme/web", "registry-1.docker.io", "acme/web"),
        ("nginx", "registry-1.docker.io", "library/nginx"),
    ],
)
def test_image_repository_parsing(image: str, registry: str, repository: str) -> None:
    assert ImageRepository.parse(image) == ImageRepository(registry, repository)


def _dep(generation: int = 2, want: int = 3, **status: object) -> dict:
    return {"metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": want}, "status": status}  # fmt: skip


def test_rollout_status_follows_kubectl() -> None:
    assert not rollout_status(_dep(observedGeneration=1), 2)[0]
    assert "updated replicas" in rollout_status(_dep(observedGeneration=2, updatedReplicas=1), 2)[1]
    old = _dep(observedGeneration=2, updatedReplicas=3, replicas=4, availableReplicas=3)
    assert "pending termination" in rollout_status(old, 2)[1]
    slow = _dep(observedGeneration=2, updatedReplicas=3, replicas=3, availableReplicas=2)
    assert "2 of 3 updated replicas are available" in rollout_status(slow, 2)[1]
    done = _dep(observedGeneration=2, updatedReplicas=3, replicas=3, availableReplicas=3)
    assert rollout_status(done, 2)[0]
    deadline = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    stuck = _dep(observedGeneration=2, conditions=[deadline])
    with pytest.raises(RolloutFailed, match="progress deadline"):
        rollout_status(stuck, 2)
