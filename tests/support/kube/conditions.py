"""The Deployment's conditions as the controller sets them (deployment/util, progress.go).

`progress` is syncRolloutStatus's switch: complete → NewReplicaSetAvailable; any progress
(more updated, ready or available replicas, fewer old ones) → ReplicaSetUpdated with a new
lastUpdateTime; otherwise ProgressDeadlineExceeded once `progressDeadlineSeconds` have passed
since that time — and a condition that already says so stays as it is until progress is
seen (DeploymentTimedOut returns true for it): the stale condition after a reused
ReplicaSet's first sync.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.support.kube.store import now_rfc3339

PROGRESSING = "Progressing"
TIMED_OUT = "ProgressDeadlineExceeded"
AVAILABLE = "NewReplicaSetAvailable"


def condition(conditions: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == kind), None)


def set_condition(
    conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str
) -> None:
    """SetDeploymentCondition: same status and reason → unchanged; same status keeps transition."""
    current = condition(conditions, kind)
    if current and current["status"] == status and current["reason"] == reason:
        return
    now = now_rfc3339()
    new = {"type": kind, "status": status, "reason": reason, "message": message,
           "lastUpdateTime": now, "lastTransitionTime": now}  # fmt: skip
    if current and current["status"] == status:
        new["lastTransitionTime"] = current["lastTransitionTime"]
    conditions[:] = [c for c in conditions if c.get("type") != kind] + [new]


def paused_condition(conditions: list[dict[str, Any]], paused: bool) -> None:
    current = condition(conditions, PROGRESSING) or {}
    if current.get("reason") == TIMED_OUT:
        return  # a reported lack of progress is not overwritten by a pause
    if paused and current.get("reason") != "DeploymentPaused":
        set_condition(conditions, PROGRESSING, "Unknown", "DeploymentPaused",
                      "Deployment is paused")  # fmt: skip
    elif not paused and current.get("reason") == "DeploymentPaused":
        set_condition(conditions, PROGRESSING, "Unknown", "DeploymentResumed",
                      "Deployment is resumed")  # fmt: skip


def progress(
    dep: dict[str, Any], new: dict[str, Any] | None, old: dict[str, Any],
    status: dict[str, Any], conditions: list[dict[str, Any]],
) -> None:  # fmt: skip
    want = dep["spec"].get("replicas", 1)
    rs_name = new["metadata"]["name"] if new else dep["metadata"]["name"]
    current = condition(conditions, PROGRESSING)
    if (
        status["replicas"] == status["updatedReplicas"]
        and current
        and (current["reason"] == AVAILABLE)
    ):
        return
    complete = (
        status["updatedReplicas"] == want
        and status["replicas"] == want
        and status["availableReplicas"] == want
    )
    old_surplus = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    progressing = (
        status["updatedReplicas"] > old.get("updatedReplicas", 0)
        or status["replicas"] - status["updatedReplicas"] < old_surplus
        or status["readyReplicas"] > old.get("readyReplicas", 0)
        or status["availableReplicas"] > old.get("availableReplicas", 0)
    )
    if complete:
        set_condition(conditions, PROGRESSING, "True", AVAILABLE,
                      f'ReplicaSet "{rs_name}" has successfully progressed.')  # fmt: skip
    elif progressing:
        kept = current["lastTransitionTime"] if current and current["status"] == "True" else None
        conditions[:] = [c for c in conditions if c.get("type") != PROGRESSING]
        set_condition(conditions, PROGRESSING, "True", "ReplicaSetUpdated",
                      f'ReplicaSet "{rs_name}" is progressing.')  # fmt: skip
        if kept:
            conditions[-1]["lastTransitionTime"] = kept
    elif timed_out(dep, current):
        set_condition(conditions, PROGRESSING, "False", TIMED_OUT,
                      f'ReplicaSet "{rs_name}" has timed out progressing.')  # fmt: skip


def timed_out(dep: dict[str, Any], current: dict[str, Any] | None) -> bool:
    if current is None or current["reason"] == AVAILABLE:
        return False
    if current["reason"] == TIMED_OUT:
        return True
    since = datetime.strptime(current["lastUpdateTime"], "%Y-%m-%dT%H:%M:%SZ")
    elapsed = datetime.now(UTC) - since.replace(tzinfo=UTC)
    return elapsed.total_seconds() > dep["spec"]["progressDeadlineSeconds"]
