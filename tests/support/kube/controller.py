"""The Deployment and ReplicaSet controllers, reduced to what a rollout needs.

Follows kube-controller-manager's pkg/controller/deployment (rolling.go, recreate.go,
sync.go, progress.go) and util/deployment_util.go, one sync of every Deployment per
`sync_period`, then one of every ReplicaSet:

- the new ReplicaSet is the one whose template equals the Deployment's (ignoring
  `pod-template-hash`); reusing an old one (a rollback) gives it the next revision;
- RollingUpdate scales by `maxSurge` (rounded up) and `maxUnavailable` (rounded down;
  1 if both are 0), cleaning unhealthy old pods first; Recreate scales every old
  ReplicaSet to zero and creates the new pods only once no old pod runs: a gap;
- status comes from the ReplicaSets' *status*, which their own sync updates afterwards,
  so the Deployment's status lags one sync behind, as with a real informer cache;
- the Progressing condition follows syncRolloutStatus: complete → NewReplicaSetAvailable,
  any progress → ReplicaSetUpdated, otherwise ProgressDeadlineExceeded once
  `progressDeadlineSeconds` have passed since its lastUpdateTime — and a condition that
  already says ProgressDeadlineExceeded stays until progress is seen, even after a
  rollback reused an old ReplicaSet (the stale condition the target must not trust);
- a paused Deployment is scaled but not rolled out; its condition says DeploymentPaused;
- old ReplicaSets beyond `revisionHistoryLimit` (default 10) are deleted.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from typing import Any

from tests.support.kube.conditions import PROGRESSING, paused_condition, progress, set_condition
from tests.support.kube.pods import Kubelet, Pod, pre_stop_seconds
from tests.support.kube.store import Store

REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"
_NOT_COPIED = (REVISION, DESIRED, MAX, "kubectl.kubernetes.io/last-applied-configuration")
HASH = "pod-template-hash"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_ORDER = itertools.count()


def _safe(digest: bytes, n: int) -> str:
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:n])


def without_hash(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    (t.get("metadata") or {}).get("labels", {}).pop(HASH, None)
    return t


def template_hash(template: dict[str, Any]) -> str:
    canonical = json.dumps(without_hash(template), sort_keys=True).encode()
    return _safe(hashlib.sha256(canonical).digest(), 10)


def scaled(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        value = "25%"
    if isinstance(value, int):
        return value
    share = total * int(value.rstrip("%")) / 100
    return math.ceil(share) if round_up else math.floor(share)


def fenceposts(dep: dict[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) of a RollingUpdate Deployment, as ResolveFenceposts does."""
    want = dep["spec"].get("replicas", 1)
    rolling = (dep["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    surge = scaled(rolling.get("maxSurge"), want, True)
    unavailable = scaled(rolling.get("maxUnavailable"), want, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, want)


def revision(obj: dict[str, Any]) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(REVISION, 0))


def _replicas(rs: dict[str, Any]) -> int:
    return int(rs["spec"].get("replicas", 0))


def _status(rs: dict[str, Any], field: str) -> int:
    return int((rs.get("status") or {}).get(field, 0))


class Controllers:
    """One sync of every Deployment, then of every ReplicaSet."""

    def __init__(self, store: Store, kubelet: Kubelet) -> None:
        self.store = store
        self.kubelet = kubelet

    def sync(self) -> None:
        for dep in self.store.list("deployments"):
            self._deployment(dep)
        for rs in self.store.list("replicasets"):
            self._replicaset(rs)

    # -- Deployment -------------------------------------------------------------------------

    def _owned(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [
            rs
            for rs in self.store.list("replicasets", namespace)
            if any(o.get("name") == name for o in rs["metadata"].get("ownerReferences") or [])
        ]

    def _deployment(self, dep: dict[str, Any]) -> None:
        namespace, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        conditions = copy.deepcopy((dep.get("status") or {}).get("conditions") or [])
        template = without_hash(dep["spec"]["template"])
        rss = self._owned(namespace, name)
        new = next((r for r in rss if without_hash(r["spec"]["template"]) == template), None)
        old = [r for r in rss if r is not new]
        paused = bool(dep["spec"].get("paused"))
        paused_condition(conditions, paused)
        if paused:
            # dc.sync: scaling still happens; no new ReplicaSet, no rollout.
            if new is not None and not any(_replicas(r) for r in old):
                self._scale(dep, new, dep["spec"].get("replicas", 1))
            self._write_status(dep, new, conditions, rollout=False)
            return
        if (dep["spec"].get("strategy") or {}).get("type") == "Recreate":
            new = self._recreate(dep, new, old, conditions)
        else:
            new = self._rolling(dep, new, old, conditions)
        self._write_status(dep, new, conditions, rollout=True)

    def _new_replicaset(
        self,
        dep: dict[str, Any],
        new: dict[str, Any] | None,
        old: list[dict[str, Any]],
        conditions: list[dict[str, Any]],
        create_with: int | None,
    ) -> dict[str, Any] | None:
        """getNewReplicaSet: reuse (next revision) or create; sync the Deployment's revision."""
        namespace, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        next_revision = max((revision(r) for r in old), default=0) + 1
        if new is not None:
            if revision(new) < next_revision:
                new = self.store.update(
                    "replicasets", namespace, new["metadata"]["name"],
                    lambda r: r["metadata"]["annotations"].update({REVISION: str(next_revision)}),
                )  # fmt: skip
        elif create_with is not None:
            new = self._create_replicaset(dep, next_revision, create_with)
            set_condition(conditions, PROGRESSING, "True", "NewReplicaSetCreated",
                          f'Created new replica set "{new["metadata"]["name"]}"')  # fmt: skip
        else:
            return None
        rev = str(revision(new))
        self.store.update(
            "deployments", namespace, name,
            lambda d: d["metadata"].setdefault("annotations", {}).update({REVISION: rev}),
        )  # fmt: skip
        return new

    def _create_replicaset(self, dep: dict[str, Any], rev: int, replicas: int) -> dict[str, Any]:
        namespace, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        pod_hash = template_hash(dep["spec"]["template"])
        template = copy.deepcopy(dep["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH] = pod_hash
        selector = copy.deepcopy(dep["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH] = pod_hash
        want = dep["spec"].get("replicas", 1)
        # copyDeploymentAnnotationsToReplicaSet, and SetReplicasAnnotations on creation.
        annotations = {k: v for k, v in (dep["metadata"].get("annotations") or {}).items()
                       if k not in _NOT_COPIED}  # fmt: skip
        annotations.update({REVISION: str(rev), DESIRED: str(want),
                            MAX: str(want + fenceposts(dep)[0])})  # fmt: skip
        rs = {
            "metadata": {
                "name": f"{name}-{pod_hash}",
                "labels": dict(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": name, "uid": dep["metadata"]["uid"],
                                     "controller": True}],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": template},
            "status": {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0},
        }  # fmt: skip
        return self.store.put("replicasets", namespace, rs)

    def _scale(self, dep: dict[str, Any], rs: dict[str, Any], replicas: int) -> dict[str, Any]:
        """scaleReplicaSet: the size, and the Deployment's size in `desired-replicas`."""
        namespace, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        want = str(dep["spec"].get("replicas", 1))

        def scale(r: dict[str, Any]) -> None:
            r["spec"]["replicas"] = replicas
            r["metadata"].setdefault("annotations", {})[DESIRED] = want

        return self.store.update("replicasets", namespace, name, scale)

    def _rolling(
        self, dep: dict[str, Any], new: dict[str, Any] | None, old: list[dict[str, Any]],
        conditions: list[dict[str, Any]],
    ) -> dict[str, Any] | None:  # fmt: skip
        want = dep["spec"].get("replicas", 1)
        surge, unavailable = fenceposts(dep)
        if new is None:
            total = sum(_replicas(r) for r in old)
            return self._new_replicaset(
                dep, None, old, conditions, min(max(0, want + surge - total), want)
            )
        new = self._new_replicaset(dep, new, old, conditions, None)
        assert new is not None
        # reconcileNewReplicaSet
        if _replicas(new) > want:
            return self._scale(dep, new, want)
        if _replicas(new) < want:
            total = _replicas(new) + sum(_replicas(r) for r in old)
            if total < want + surge:
                grow = min(want + surge - total, want - _replicas(new))
                return self._scale(dep, new, _replicas(new) + grow)
        # reconcileOldReplicaSets
        if not any(_replicas(r) for r in old):
            self._cleanup_history(dep, old)
            return new
        everything = [new, *old]
        min_available = want - unavailable
        new_unavailable = _replicas(new) - _status(new, "availableReplicas")
        max_down = sum(_replicas(r) for r in everything) - min_available - new_unavailable
        if max_down <= 0:
            return new
        cleaned = 0
        for i, rs in enumerate(old):  # cleanupUnhealthyReplicas: unavailable old pods first
            unhealthy = _replicas(rs) - _status(rs, "availableReplicas")
            if cleaned >= max_down or unhealthy <= 0:
                continue
            n = min(max_down - cleaned, unhealthy)
            old[i] = self._scale(dep, rs, _replicas(rs) - n)
            cleaned += n
        # scaleDownOldReplicaSetsForRollingUpdate: keep minAvailable available
        todo = sum(_status(r, "availableReplicas") for r in [new, *old]) - min_available
        for rs in old:
            if todo <= 0:
                break
            n = min(_replicas(rs), todo)
            if n > 0:
                self._scale(dep, rs, _replicas(rs) - n)
                todo -= n
        return new

    def _recreate(
        self, dep: dict[str, Any], new: dict[str, Any] | None, old: list[dict[str, Any]],
        conditions: list[dict[str, Any]],
    ) -> dict[str, Any] | None:  # fmt: skip
        namespace = dep["metadata"]["namespace"]
        want = dep["spec"].get("replicas", 1)
        new = self._new_replicaset(dep, new, old, conditions, None)
        if any(_replicas(r) for r in old):
            for rs in old:
                self._scale(dep, rs, 0)
            return new
        for rs in old:  # oldPodsRunning: terminating pods still count
            if self.kubelet.owned_by(namespace, rs["metadata"]["name"]):
                return new
        if new is None:
            return self._new_replicaset(dep, None, old, conditions, want)
        if _replicas(new) != want:
            new = self._scale(dep, new, want)
        self._cleanup_history(dep, old)
        return new

    def _cleanup_history(self, dep: dict[str, Any], old: list[dict[str, Any]]) -> None:
        limit = dep["spec"].get("revisionHistoryLimit", 10)
        idle = [r for r in old if not _replicas(r) and not _status(r, "replicas")]
        idle.sort(key=revision)
        for rs in idle[: max(0, len(idle) - limit)]:
            namespace, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
            if not self.kubelet.owned_by(namespace, name):
                self.store.delete("replicasets", namespace, name)

    def _write_status(
        self, dep: dict[str, Any], new: dict[str, Any] | None,
        conditions: list[dict[str, Any]], *, rollout: bool,
    ) -> None:  # fmt: skip
        namespace, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        dep = self.store.get("deployments", namespace, name) or dep
        everything = self._owned(namespace, name)
        want = dep["spec"].get("replicas", 1)
        old_status = dep.get("status") or {}
        available = sum(_status(r, "availableReplicas") for r in everything)
        status: dict[str, Any] = {
            "observedGeneration": dep["metadata"]["generation"],
            "replicas": sum(_status(r, "replicas") for r in everything),
            "updatedReplicas": _status(new, "replicas") if new else 0,
            "readyReplicas": sum(_status(r, "readyReplicas") for r in everything),
            "availableReplicas": available,
            "unavailableReplicas": max(0, sum(_replicas(r) for r in everything) - available),
        }
        unavailable = fenceposts(dep)[1] if dep["spec"].get("strategy", {}).get(
            "type", "RollingUpdate") == "RollingUpdate" else 0  # fmt: skip
        if available >= want - unavailable:
            set_condition(conditions, "Available", "True", "MinimumReplicasAvailable",
                          "Deployment has minimum availability.")  # fmt: skip
        else:
            set_condition(conditions, "Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.")  # fmt: skip
        if rollout and "progressDeadlineSeconds" in dep["spec"]:
            progress(dep, new, old_status, status, conditions)
        status["conditions"] = conditions
        self.store.update("deployments", namespace, name, lambda d: d.update(status=status))

    # -- ReplicaSet -------------------------------------------------------------------------

    def _replicaset(self, rs: dict[str, Any]) -> None:
        namespace, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        want = _replicas(rs)
        pods = [p for p in self.kubelet.owned_by(namespace, name) if not p.deleting]
        template = rs["spec"]["template"]
        for _ in range(want - len(pods)):
            pod = Pod(
                namespace=namespace,
                name=f"{name}-{_safe(hashlib.sha256(str(next(_ORDER)).encode()).digest(), 5)}",
                owner=name,
                labels=dict(template["metadata"].get("labels") or {}),
                images=tuple(c["image"] for c in template["spec"]["containers"]),
                pre_stop=pre_stop_seconds(template),
            )
            self.kubelet.create(pod)
            pods.append(pod)
        if len(pods) > want:
            # Not-ready pods go first, then the newest (controller.ActivePods ranking).
            ranked = sorted(enumerate(pods), key=lambda ip: (ip[1].ready, -ip[0]))
            for _, pod in ranked[: len(pods) - want]:
                self.kubelet.delete(pod)
            pods = [p for p in pods if not p.deleting]
        ready = sum(p.ready for p in pods)
        status = {"replicas": len(pods), "readyReplicas": ready, "availableReplicas": ready,
                  "fullyLabeledReplicas": len(pods),
                  "observedGeneration": rs["metadata"].get("generation", 1)}  # fmt: skip
        self.store.update("replicasets", namespace, name, lambda r: r.update(status=status))
