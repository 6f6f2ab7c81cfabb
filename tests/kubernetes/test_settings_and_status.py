"""Pure parts: settings validation, canary shares, image names, the rollout status logic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from releasegate.targets.kubernetes.canary import shares
from releasegate.targets.kubernetes.registry import ImageRepository
from releasegate.targets.kubernetes.rollout import RolloutFailed, rollout_status
from releasegate.targets.kubernetes.settings import KubernetesSettings
from releasegate.targets.kubernetes.target import KubernetesTarget

BASE = {"namespace": "web", "deployment": "web", "container": "app", "image": "ghcr.io/acme/web"}


def test_unknown_keys_and_tagged_images_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        KubernetesSettings(**BASE, replicaz=3)
    with pytest.raises(ValidationError, match="without tag or digest"):
        KubernetesSettings(**{**BASE, "image": "ghcr.io/acme/web:1.0"})
    with pytest.raises(ValidationError, match="without tag or digest"):
        KubernetesSettings(**{**BASE, "image": "ghcr.io/acme/web\n"})
    with pytest.raises(ValidationError, match="ending at 100"):
        KubernetesSettings(**BASE, canary_steps=[10, 50])
    with pytest.raises(ValidationError, match="in_cluster excludes"):
        KubernetesSettings(**BASE, in_cluster=True, context="prod")


@pytest.mark.parametrize(
    "key", ["namespace", "deployment", "container", "service", "canary_service"]
)
def test_every_object_name_is_a_kubernetes_label(key: str) -> None:
    for bad in ("s" * 64, "Web", "-web", "web.example"):
        with pytest.raises(ValidationError, match=key):
            KubernetesSettings(**{**BASE, key: bad})
    assert getattr(KubernetesSettings(**{**BASE, key: "s" * 63}), key) == "s" * 63


@pytest.mark.parametrize("delay", [0, 0.001, 29.9])
def test_the_old_colour_cannot_be_dropped_while_routes_still_reach_it(delay: float) -> None:
    with pytest.raises(ValidationError, match=r"scale_down_delay\n.*at least 30 seconds"):
        KubernetesSettings(**BASE, scale_down_delay=delay)
    assert KubernetesSettings(**BASE, scale_down_delay=30).scale_down_delay == 30


@pytest.mark.parametrize(
    ("total", "weight", "canary", "stable"),
    [
        (4, 25, 1, 3),  # 25 % exactly
        (4, 50, 2, 2),
        (2, 50, 1, 1),  # not 1 canary beside 2 stable (33 %)
        (2, 10, 1, 2),  # the closest to 10 % with one pod of each: 33 %
        (10, 10, 1, 9),
        (10, 33, 3, 7),
        (3, 50, 2, 2),  # 1 or 2 of 3 are equally far from 50 %: the surge gives 2 of 4
        (1, 50, 1, 1),
        (5, 100, 5, 0),
    ],
)
def test_canary_steps_are_the_closest_shares_as_argo_computes_them(
    total: int, weight: int, canary: int, stable: int
) -> None:
    assert shares(total, weight) == (canary, stable)


def test_a_target_is_built_without_cluster_access() -> None:
    # What each strategy needs is checked at config load (tests/policy/test_vocabulary.py).
    KubernetesTarget(KubernetesSettings(**BASE, service="web"), "web", "staging", "rolling")


@pytest.mark.parametrize(
    ("image", "registry", "repository"),
    [
        ("ghcr.io/acme/web", "ghcr.io", "acme/web"),
        ("127.0.0.1:5000/web", "127.0.0.1:5000", "web"),
        ("localhost/web", "localhost", "web"),
        ("acme/web", "registry-1.docker.io", "acme/web"),
        ("nginx", "registry-1.docker.io", "library/nginx"),
        ("docker.io/acme/web", "registry-1.docker.io", "acme/web"),
        ("docker.io/nginx", "registry-1.docker.io", "library/nginx"),
        ("index.docker.io/library/nginx", "registry-1.docker.io", "library/nginx"),
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


def test_a_deadline_condition_counts_only_if_it_postdates_our_change() -> None:
    ours = datetime(2026, 5, 4, 10, 0, 7, tzinfo=UTC)

    def stuck(at: str) -> dict:
        cond = {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "lastUpdateTime": at,
            "lastTransitionTime": at,
        }
        return _dep(observedGeneration=2, updatedReplicas=3, replicas=4, availableReplicas=3,
                    conditions=[cond])  # fmt: skip

    for stale in ("2026-05-04T09:59:00Z", "2026-05-04T10:00:07Z"):  # before, or the same second
        done, waiting = rollout_status(stuck(stale), 2, since=ours)
        assert not done and "stale" in waiting
    with pytest.raises(RolloutFailed, match="progress deadline"):
        rollout_status(stuck("2026-05-04T10:00:08Z"), 2, since=ours)


def test_a_paused_deployment_is_a_failure_not_a_wait() -> None:
    paused = _dep(observedGeneration=2)
    paused["spec"]["paused"] = True
    with pytest.raises(RolloutFailed, match="is paused"):
        rollout_status(paused, 2)
