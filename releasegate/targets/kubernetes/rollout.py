"""Wait for a Deployment rollout the way `kubectl rollout status` does, minus two of its traps.

- A stale `ProgressDeadlineExceeded`. The controller leaves that condition in place until
  it sees progress (deployment_util.go: DeploymentTimedOut returns true for a condition
  that already timed out). When a rollback reuses an old ReplicaSet and the first sync sees
  no progress yet — with `replicas: 1` the stuck pod is still counted — it writes the new
  `observedGeneration` beside the old condition: kubectl reports a failure while the
  rollback succeeds one sync later. A deadline condition counts here only if its
  `lastUpdateTime` is later than our write (the server's clock): a genuine one is set
  `progressDeadlineSeconds` (≥ 1 s) after the last progress, which is after our write.
- A paused Deployment never rolls out; kubectl waits for ever. Here it fails at once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from releasegate.targets.base import TargetError

if TYPE_CHECKING:
    from releasegate.targets.kubernetes.client import Kube


class RolloutFailed(TargetError):
    """The rollout exceeded its progress deadline, is paused, or outlasted our timeout."""


def paused(deployment: dict[str, Any], namespace: str) -> RolloutFailed:
    name = deployment["metadata"]["name"]
    return RolloutFailed(
        f"deployment {name!r} is paused (spec.paused: true), so it will not roll out; "
        f"resume it (`kubectl rollout resume deployment/{name} -n {namespace}`) or deploy "
        "when whoever paused it is done. releasegate never resumes a paused Deployment"
    )


def _condition_time(cond: dict[str, Any]) -> datetime | None:
    stamp = cond.get("lastUpdateTime") or cond.get("lastTransitionTime")
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def rollout_status(
    deployment: dict[str, Any], generation: int, since: datetime | None = None
) -> tuple[bool, str]:
    """(done, what we are waiting for). Raise RolloutFailed on a deadline (after `since`) or pause.

    Mirrors kubectl's DeploymentStatusViewer: nothing counts until the controller has
    observed our generation; then updated, old and available replicas must all settle.
    """
    name = deployment["metadata"]["name"]
    if deployment["spec"].get("paused"):
        raise paused(deployment, deployment["metadata"].get("namespace", "?"))
    status = deployment.get("status") or {}
    if status.get("observedGeneration", 0) < max(
        generation, deployment["metadata"].get("generation", 0)
    ):
        return False, f"waiting for deployment {name!r} spec update to be observed"
    stale = ""
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            at = _condition_time(cond)
            if since is None or at is None or at > since:
                raise RolloutFailed(
                    f"deployment {name!r} exceeded its progress deadline: {cond.get('message', '')}"
                )
            stale = (
                f" (its ProgressDeadlineExceeded condition is from {at:%H:%M:%S} UTC, "
                "before this change: stale)"
            )
    want = deployment["spec"].get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < want:
        return False, f"{updated} of {want} updated replicas are available{stale}"
    if total > updated:
        return False, f"{total - updated} old replicas are pending termination{stale}"
    if available < updated:
        return False, f"{available} of {updated} updated replicas are available{stale}"
    return True, f"deployment {name!r} successfully rolled out"


def wait_for_rollout(
    kube: Kube,
    name: str,
    generation: int,
    *,
    since: datetime | None,
    timeout: float,
    interval: float,
) -> dict[str, Any]:
    """Poll until `rollout_status` is done; RolloutFailed on a deadline or after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        deployment = kube.get_deployment(name)
        done, waiting_for = rollout_status(deployment, generation, since)
        if done:
            return deployment
        if time.monotonic() >= deadline:
            raise RolloutFailed(
                f"rollout of deployment {name!r} not complete after {timeout:g}s: {waiting_for}"
            )
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
