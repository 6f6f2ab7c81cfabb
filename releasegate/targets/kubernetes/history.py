"""A Deployment's history: its ReplicaSets, one per pod template it has run, by revision.

Deployment history lives in ReplicaSets (ControllerRevisions belong to StatefulSets and
DaemonSets). Each keeps the whole pod template it ran, which is what a rollback restores,
as `kubectl rollout undo` does (minus the controller's `pod-template-hash` label).
"""

from __future__ import annotations

import copy
from typing import Any

from releasegate.targets.kubernetes.client import Kube

REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"


def revision(obj: dict[str, Any]) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(REVISION) or 0)


def without_hash(template: dict[str, Any]) -> dict[str, Any]:
    """The template as the Deployment holds it: the controller's hash label removed."""
    template = copy.deepcopy(template)
    ((template.get("metadata") or {}).get("labels") or {}).pop(POD_TEMPLATE_HASH, None)
    return template


def replicasets(kube: Kube, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The ReplicaSets `deployment` owns, oldest revision first."""
    name = deployment["metadata"]["name"]
    labels = (deployment["spec"].get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    owned = [
        rs
        for rs in kube.list_replicasets(selector)
        if any(
            o.get("kind") == "Deployment" and o.get("name") == name
            for o in rs["metadata"].get("ownerReferences") or []
        )
    ]
    return sorted(owned, key=revision)


def current(rss: list[dict[str, Any]], deployment: dict[str, Any]) -> dict[str, Any] | None:
    """The ReplicaSet running the Deployment's template now (the controller's "new" one)."""
    template = without_hash(deployment["spec"]["template"])
    return next((rs for rs in rss if without_hash(rs["spec"]["template"]) == template), None)


def template_running(
    rss: list[dict[str, Any]], container: str, image: str
) -> dict[str, Any] | None:
    """The whole pod template of the newest ReplicaSet whose `container` ran `image`.

    One that had pods is preferred: a template edited while its Deployment sat at zero (an
    idle blue-green colour) also gets a ReplicaSet, created at zero and never scaled, so
    still at its first generation.
    """
    candidates = [
        rs
        for rs in rss
        if any(
            c.get("name") == container and c.get("image") == image
            for c in rs["spec"]["template"]["spec"].get("containers") or []
        )
    ]
    if not candidates:
        return None
    best = max(candidates, key=lambda rs: (_had_pods(rs), revision(rs)))
    return without_hash(best["spec"]["template"])


def _had_pods(rs: dict[str, Any]) -> bool:
    return bool(rs["spec"].get("replicas")) or int(rs["metadata"].get("generation") or 1) > 1


def summary(rs: dict[str, Any]) -> dict[str, Any]:
    """One row of the audit snapshot's history."""
    containers = rs["spec"]["template"]["spec"].get("containers") or []
    return {
        "name": rs["metadata"]["name"],
        "revision": (rs["metadata"].get("annotations") or {}).get(REVISION),
        "images": [c.get("image") for c in containers],
        "replicas": rs["spec"].get("replicas", 0),
    }
