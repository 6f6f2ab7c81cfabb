"""Shared Deployment/Service operations every strategy is built from.

Writes are JSON Patches guarded by `test` ops (the container's position and name) or merge
patches carrying `metadata.resourceVersion`; both mean the same on a real API server and on
the emulator. A conflict is retried on a fresh read, never forced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from releasegate.release import Release
from releasegate.targets.base import TargetError
from releasegate.targets.kubernetes.client import Conflict, Kube, Patch
from releasegate.targets.kubernetes.rollout import wait_for_rollout
from releasegate.targets.kubernetes.settings import KubernetesSettings

VERSION = "releasegate.io/version"
DIGEST = "releasegate.io/digest"
SCALE_DOWN_AFTER = "releasegate.io/scale-down-after"


def _pointer(key: str) -> str:
    # RFC 6901: '~' and '/' inside a key are escaped.
    return key.replace("~", "~0").replace("/", "~1")


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

    # -- writes ------------------------------------------------------------------------------

    def set_image(
        self,
        name: str,
        release: Release,
        *,
        replicas: int | None = None,
        strategy_type: str | None = None,
        annotations: dict[str, str | None] | None = None,
    ) -> int:
        """Point the container at `release.artifact`; return the generation to wait for."""

        def plan(dep: dict[str, Any]) -> Patch:
            i = self.container_index(dep)
            base = f"/spec/template/spec/containers/{i}"
            ops: list[dict[str, Any]] = [
                {"op": "test", "path": f"{base}/name", "value": self.settings.container},
                {"op": "replace", "path": f"{base}/image", "value": release.artifact},
            ]
            notes = {VERSION: release.version, DIGEST: release.digest, **(annotations or {})}
            ops += _annotation_ops(dep, notes)
            if replicas is not None:
                ops.append({"op": "replace", "path": "/spec/replicas", "value": replicas})
            current_type = (dep["spec"].get("strategy") or {}).get("type", "RollingUpdate")
            if strategy_type and current_type != strategy_type:
                # Replacing the whole object drops rollingUpdate, which Recreate forbids.
                ops.append(
                    {"op": "add", "path": "/spec/strategy", "value": {"type": strategy_type}}
                )
            return ops

        patched = self.update(name, self.kube.get_deployment, self.kube.patch_deployment, plan)
        return int(patched["metadata"].get("generation") or 0)

    def scale(
        self, name: str, replicas: int, annotations: dict[str, str | None] | None = None
    ) -> int:
        """Set replicas (an absolute value: no read-modify-write to race); return the generation."""
        patch: dict[str, Any] = {"spec": {"replicas": replicas}}
        if annotations:
            patch["metadata"] = {"annotations": annotations}
        patched = self.kube.patch_deployment(name, patch)
        return int(patched["metadata"].get("generation") or 0)

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
        write: Callable[[str, Patch], dict[str, Any]],
        plan: Callable[[dict[str, Any]], Patch],
        first: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
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

    def wait(self, name: str, generation: int) -> None:
        """Block until the rollout of `name` completes; TargetError if stuck or too slow."""
        wait_for_rollout(
            self.kube,
            name,
            generation,
            timeout=self.settings.rollout_timeout,
            interval=self.settings.poll_interval,
        )

    def roll(self, name: str, release: Release, **kwargs: Any) -> None:
        """set_image + wait: the whole of a rolling or recreate deploy."""
        self.wait(name, self.set_image(name, release, **kwargs))


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
