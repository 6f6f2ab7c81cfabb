"""Wait for a Deployment rollout the way `kubectl rollout status` does."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from releasegate.targets.base import TargetError

if TYPE_CHECKING:
    from releasegate.targets.kubernetes.client import Kube


class RolloutFailed(TargetError):
    """The rollout exceeded its progress deadline or our timeout."""


def rollout_status(deployment: dict[str, Any], generation: int) -> tuple[bool, str]:
    """(done, what we are waiting for). Raise RolloutFailed on ProgressDeadlineExceeded.

    Mirrors kubectl's DeploymentStatusViewer: nothing counts until the controller has
    observed our generation; then updated, old and available replicas must all settle.
    """
    name = deployment["metadata"]["name"]
    status = deployment.get("status") or {}
    if status.get("observedGeneration", 0) < max(
        generation, deployment["metadata"].get("generation", 0)
    ):
        return False, f"waiting for deployment {name!r} spec update to be observed"
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            raise RolloutFailed(
                f"deployment {name!r} exceeded its progress deadline: {cond.get('message', '')}"
            )
    want = deployment["spec"].get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < want:
        return False, f"{updated} of {want} updated replicas are available"
    if total > updated:
        return False, f"{total - updated} old replicas are pending termination"
    if available < updated:
        return False, f"{available} of {updated} updated replicas are available"
    return True, f"deployment {name!r} successfully rolled out"


def wait_for_rollout(
    kube: Kube, name: str, generation: int, *, timeout: float, interval: float
) -> dict[str, Any]:
    """Poll until `rollout_status` is done; RolloutFailed on a deadline or after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        deployment = kube.get_deployment(name)
        done, waiting_for = rollout_status(deployment, generation)
        if done:
            return deployment
        if time.monotonic() >= deadline:
            raise RolloutFailed(
                f"rollout of deployment {name!r} not complete after {timeout:g}s: {waiting_for}"
            )
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
