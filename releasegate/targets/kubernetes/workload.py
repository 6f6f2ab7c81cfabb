"""Shared Deployment/Service operations every strategy is built from.

Writes are JSON Patches guarded by `test` ops (the container's position and name, or the
whole template being replaced) or merge patches carrying `metadata.resourceVersion`; both
mean the same on a real API server and on the emulator. A conflict is retried on a fresh
read, never forced. Every write returns a `Change`: the generation to wait for and the
server's time of the write, after which a progress-deadline condition is news.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from releasegate.release import Release
from releasegate.targets.base import TargetError
from releasegate.targets.kubernetes import history
from releasegate.targets.kubernetes.client import Conflict, Kube, Patch, Written
from releasegate.targets.kubernetes.rollout import paused, wait_for_rollout
from releasegate.targets.kubernetes.settings import KubernetesSettings

VERSION = "releasegate.io/version"
DIGEST = "releasegate.io/digest"
SCALE_DOWN_AFTER = "releasegate.io/scale-down-after"

log = logging.getLogger(__name__)


def _pointer(key: str) -> str:
    # RFC 6901: '~' and '/' inside a key are escaped.
    return key.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Change:
    """A write to a Deployment: the generation it produced and when the server stored it."""

    generation: int
    at: datetime

    @classmethod
    def of(cls, written: Written) -> Change:
        return cls(int(written.object["metadata"].get("generation") or 0), written.at)


@dataclass(frozen=True)
class Workload:
    """One environment's namespace, seen through the target's settings."""

    kube: Kube
    settings: KubernetesSettings

    # -- reads -------------------------------------------------------------------------------

    def container_index(self, deployment: dict[str, Any]) -> int:
        name = deployment["metadata"]["name"]
        containers = deployment["spec"]["template"]["spec"].get("containers") or []
        for i, c in enumerate(containers):
            if c.get("name") == self.settings.container:
                return i
        raise TargetError(
            f"deployment {name!r} has no container {self.settings.container!r} "
            f"(has: {', '.join(c.get('name', '?') for c in containers) or 'none'})"
        )

    def image_of(self, deployment: dict[str, Any]) -> str:
        i = self.container_index(deployment)
        return deployment["spec"]["template"]["spec"]["containers"][i].get("image", "")

    def replicaset_of(self, deployment: dict[str, Any]) -> str:
        """The ReplicaSet running `deployment`'s template (its pods are `<name>-<suffix>`)."""
        rs = history.current(history.replicasets(self.kube, deployment), deployment)
        if rs is None:
            raise TargetError(f"deployment {deployment['metadata']['name']!r} has no ReplicaSet")
        return str(rs["metadata"]["name"])

    def refuse_paused(self, *names: str) -> None:
        """Fail before any write if one of `names` is paused: it would never roll out.

        (A single-Deployment change needs no such read: its patch plan refuses.)
        """
        for name in names:
            deployment = self.kube.get_deployment(name)
            if deployment["spec"].get("paused"):
                raise paused(deployment, self.settings.namespace)

    # -- writes ------------------------------------------------------------------------------

    def set_image(
        self,
        name: str,
        release: Release,
        *,
        replicas: int | None = None,
        strategy_type: str | None = None,
        annotations: dict[str, str | None] | None = None,
    ) -> Change:
        """Point the container at `release.artifact`; return the change to wait for."""

        def plan(dep: dict[str, Any]) -> Patch:
            i = self.container_index(dep)
            base = f"/spec/template/spec/containers/{i}"
            ops: list[dict[str, Any]] = [
                {"op": "test", "path": f"{base}/name", "value": self.settings.container},
                {"op": "replace", "path": f"{base}/image", "value": release.artifact},
            ]
            return ops + self._common_ops(dep, release, replicas, strategy_type, annotations)

        return self._write(name, plan)

    def restore(
        self,
        name: str,
        release: Release,
        *,
        sources: tuple[str, ...] = (),
        labels: dict[str, str] | None = None,
        replicas: int | None = None,
        strategy_type: str | None = None,
        annotations: dict[str, str | None] | None = None,
    ) -> Change:
        """Put back the whole pod template that ran `release`, as `kubectl rollout undo` does.

        The template comes from the ReplicaSet history of the first of `sources` (default:
        `name`) that has one, with `labels` overriding its labels (a blue-green colour).
        Without such a ReplicaSet (history trimmed by revisionHistoryLimit) only the image
        can be restored.
        """
        template = None
        for source in sources or (name,):
            rss = history.replicasets(self.kube, self.kube.get_deployment(source))
            template = history.template_running(rss, self.settings.container, release.artifact)
            if template is not None:
                break
        if template is None:
            log.warning(
                "%s: no ReplicaSet ran %s any more; restoring the image only",
                name, release.artifact,
            )  # fmt: skip
            return self.set_image(
                name, release, replicas=replicas, strategy_type=strategy_type,
                annotations=annotations,
            )  # fmt: skip
        template["metadata"].setdefault("labels", {}).update(labels or {})

        def plan(dep: dict[str, Any]) -> Patch:
            ops: list[dict[str, Any]] = [
                {"op": "test", "path": "/spec/template", "value": dep["spec"]["template"]},
                {"op": "replace", "path": "/spec/template", "value": template},
            ]
            return ops + self._common_ops(dep, release, replicas, strategy_type, annotations)

        return self._write(name, plan)

    def _common_ops(
        self,
        dep: dict[str, Any],
        release: Release,
        replicas: int | None,
        strategy_type: str | None,
        annotations: dict[str, str | None] | None,
    ) -> list[dict[str, Any]]:
        if dep["spec"].get("paused"):
            raise paused(dep, self.settings.namespace)
        notes = {VERSION: release.version, DIGEST: release.digest, **(annotations or {})}
        ops = _annotation_ops(dep, notes)
        if replicas is not None:
            ops.append({"op": "replace", "path": "/spec/replicas", "value": replicas})
        current_type = (dep["spec"].get("strategy") or {}).get("type", "RollingUpdate")
        if strategy_type and current_type != strategy_type:
            # Replacing the whole object drops rollingUpdate, which Recreate forbids.
            ops.append({"op": "add", "path": "/spec/strategy", "value": {"type": strategy_type}})
        return ops

    def _write(self, name: str, plan: Callable[[dict[str, Any]], Patch]) -> Change:
        return Change.of(
            self.update(name, self.kube.get_deployment, self.kube.patch_deployment, plan)
        )

    def scale(
        self, name: str, replicas: int, annotations: dict[str, str | None] | None = None
    ) -> Change:
        """Set replicas (an absolute value: no read-modify-write to race); return the change."""
        patch: dict[str, Any] = {"spec": {"replicas": replicas}}
        if annotations:
            patch["metadata"] = {"annotations": annotations}
        return Change.of(self.kube.patch_deployment(name, patch))

    def set_selector(
        self, service: str, key: str, value: str, read: dict[str, Any] | None = None
    ) -> None:
        """Make `service` select pods with `key=value` (one merge patch, resourceVersion-guarded).

        `read`: the Service as just read by the caller, to save a GET; stale is fine (409, retry).
        """

        def plan(svc: dict[str, Any]) -> Patch:
            return {
                "metadata": {"resourceVersion": svc["metadata"].get("resourceVersion")},
                "spec": {"selector": {key: value}},
            }

        self.update(service, self.kube.get_service, self.kube.patch_service, plan, read)

    def update(
        self,
        name: str,
        read: Callable[[str], dict[str, Any]],
        write: Callable[[str, Patch], Written],
        plan: Callable[[dict[str, Any]], Patch],
        first: dict[str, Any] | None = None,
    ) -> Written:
        """Read (or use `first`), plan a guarded patch, write; on a conflict re-read and re-plan."""
        last: tuple[Patch, str] | None = None
        for _ in range(self.settings.conflict_retries):
            patch = plan(first if first is not None else read(name))
            first = None
            try:
                return write(name, patch)
            except Conflict as e:
                # The same patch rejected twice on fresh reads is not a race: it is invalid.
                if last is not None and last[0] == patch:
                    raise TargetError(f"the API server rejected the change: {e}") from e
                last = (patch, str(e))
        raise TargetError(
            f"{name!r} kept changing under us: gave up after {self.settings.conflict_retries} "
            f"attempts ({last[1] if last else ''})"
        )

    def wait(self, name: str, change: Change) -> dict[str, Any]:
        """Block until the rollout of `name` completes; TargetError if stuck or too slow."""
        return wait_for_rollout(
            self.kube,
            name,
            change.generation,
            since=change.at,
            timeout=self.settings.rollout_timeout,
            interval=self.settings.poll_interval,
        )

    def roll(self, name: str, release: Release, **kwargs: Any) -> dict[str, Any]:
        """set_image + wait: the whole of a rolling or recreate deploy."""
        return self.wait(name, self.set_image(name, release, **kwargs))


def _annotation_ops(dep: dict[str, Any], notes: dict[str, str | None]) -> list[dict[str, Any]]:
    existing = dep["metadata"].get("annotations")
    if existing is None:
        values = {k: v for k, v in notes.items() if v is not None}
        return [{"op": "add", "path": "/metadata/annotations", "value": values}] if values else []
    ops: list[dict[str, Any]] = []
    for key, value in notes.items():
        path = f"/metadata/annotations/{_pointer(key)}"
        if value is not None:
            ops.append({"op": "add", "path": path, "value": value})
        elif key in existing:
            ops.append({"op": "remove", "path": path})
    return ops


def release_of(deployment: dict[str, Any], image: str) -> tuple[str | None, str | None]:
    """(version, digest) recorded on a Deployment; the digest also parsed from `image@sha256:`."""
    notes = deployment["metadata"].get("annotations") or {}
    digest = image.split("@", 1)[1] if "@" in image else notes.get(DIGEST)
    return notes.get(VERSION), digest


def ready(deployment: dict[str, Any]) -> bool:
    """All desired replicas of the current generation are updated and available."""
    spec, status = deployment["spec"], deployment.get("status") or {}
    want = spec.get("replicas", 1)
    return (
        status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
        and status.get("updatedReplicas", 0) == want
        and status.get("availableReplicas", 0) == want
    )
