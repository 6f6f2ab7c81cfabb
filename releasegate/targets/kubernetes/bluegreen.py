"""blue-green: two Deployments, `<name>-blue` and `<name>-green`; a Service selector picks one.

The new release goes to the idle colour. The preview Service is pointed at it and the
check counts only once the preview routes to the new pods alone, after several
consecutive passes. Then the live Service's selector switches, and the old colour stays
up for `scale_down_delay` (at least 30 s: routes lag) so that a rollback is one patch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from releasegate.release import Release
from releasegate.targets.base import Probe, TargetError
from releasegate.targets.kubernetes.endpoints import passes, settle
from releasegate.targets.kubernetes.workload import (
    SCALE_DOWN_AFTER,
    Change,
    Workload,
    ready,
    release_of,
)

COLOR = "releasegate.io/color"
COLORS = ("blue", "green")


def _other(color: str) -> str:
    return COLORS[1 - COLORS.index(color)]


class BlueGreen:
    """Deploy to the idle colour, probe it, switch the selector, keep the old colour warm."""

    def deployments(self, w: Workload) -> list[str]:
        return [self._name(w, c) for c in COLORS]

    def live(self, w: Workload) -> str:
        return self._name(w, self.live_color(w))

    def live_color(self, w: Workload) -> str:
        return self._live(w)[0]

    def _live(self, w: Workload) -> tuple[str, dict[str, Any]]:
        """(live colour, the live Service as read)."""
        service = w.settings.service
        assert service is not None  # checked by KubernetesSettings.check_strategy
        svc = w.kube.get_service(service)
        selector = svc["spec"].get("selector") or {}
        color = selector.get(COLOR)
        if color not in COLORS:
            raise TargetError(
                f"service {service!r} must select {COLOR}=blue or green (has {selector}); "
                "see docs/kubernetes.md for the initial manifests"
            )
        return color, svc

    def deploy(self, w: Workload, release: Release, probe: Probe) -> None:
        live = self.live_color(w)
        idle = _other(live)
        target = self._name(w, idle)
        replicas = self._replicas(w, live)
        # Clear any pending scale-down so a reaper cannot shrink the candidate under us.
        change = w.set_image(
            target, release, replicas=replicas, annotations={SCALE_DOWN_AFTER: None}
        )
        self._check_and_switch(w, release, idle, change, replicas, probe)

    def rollback(self, w: Workload, release: Release, probe: Probe) -> None:
        """One selector patch when the idle colour still runs `release`; else a deploy of it."""
        s = w.settings
        live, live_service = self._live(w)
        idle = _other(live)
        dep = w.kube.get_deployment(self._name(w, idle))
        _, digest = release_of(dep, w.image_of(dep))
        replicas = dep["spec"].get("replicas", 1)
        if digest == release.digest and replicas > 0 and ready(dep):
            pods = w.replicaset_of(dep)
            preview = w.kube.get_service(s.preview_service or "")
            # Probe only when the preview already routes to it: a rollback writes nothing else.
            if (preview["spec"].get("selector") or {}).get(COLOR) == idle:
                settle(w.kube, s, s.preview_service or "", {pods: replicas})
                if not passes(probe, s.preview_url or "", s):
                    raise TargetError(f"warm colour {idle!r} fails its smoke check; not switching")
            w.set_selector(s.service or "", COLOR, idle, read=live_service)
            settle(w.kube, s, s.service or "", {pods: replicas})
            return
        # The old colour is gone: deploy the whole recorded template to the idle colour.
        target = self._name(w, idle)
        replicas = self._replicas(w, live)
        change = w.restore(
            target, release,
            sources=(target, self._name(w, live)),
            labels={COLOR: idle},
            replicas=replicas,
            annotations={SCALE_DOWN_AFTER: None},
        )  # fmt: skip
        self._check_and_switch(w, release, idle, change, replicas, probe)

    def _check_and_switch(
        self, w: Workload, release: Release, idle: str, change: Change, replicas: int, probe: Probe
    ) -> None:
        s = w.settings
        target, live = self._name(w, idle), self._name(w, _other(idle))
        try:
            pods = w.replicaset_of(w.wait(target, change))
            w.set_selector(s.preview_service or "", COLOR, idle)
            settle(w.kube, s, s.preview_service or "", {pods: replicas})
            if not passes(probe, s.preview_url or "", s):
                raise TargetError(
                    f"{target!r} ({release.version}) failed its smoke check at {s.preview_url} "
                    f"({s.probe_passes} consecutive passes required)"
                )
        except TargetError as e:
            w.scale(target, 0)
            raise TargetError(
                f"{e}; {target!r} scaled to zero, live colour {live!r} untouched"
            ) from e
        w.set_selector(s.service or "", COLOR, idle)
        # The old colour's delay starts once the live Service routes to the new pods only.
        settle(w.kube, s, s.service or "", {pods: replicas})
        # Keep the old colour reachable through the preview Service for a pre-rollback probe.
        w.set_selector(s.preview_service or "", COLOR, _other(idle))
        self._retire(w, live)

    def reap(self, w: Workload) -> None:
        """Scale the idle colour to zero once its scale-down time has passed."""
        name = self._name(w, _other(self.live_color(w)))
        dep = w.kube.get_deployment(name)
        due = (dep["metadata"].get("annotations") or {}).get(SCALE_DOWN_AFTER)
        if due and datetime.fromisoformat(due) <= datetime.now(UTC):
            w.scale(name, 0, annotations={SCALE_DOWN_AFTER: None})

    def _retire(self, w: Workload, name: str) -> None:
        delay = w.settings.scale_down_delay  # ≥ 30 s, checked with the configuration
        due = (datetime.now(UTC) + timedelta(seconds=delay)).isoformat(timespec="seconds")
        w.kube.patch_deployment(name, {"metadata": {"annotations": {SCALE_DOWN_AFTER: due}}})

    def _replicas(self, w: Workload, live: str) -> int:
        if w.settings.replicas:
            return w.settings.replicas
        return max(1, w.kube.get_deployment(self._name(w, live))["spec"].get("replicas", 1))

    @staticmethod
    def _name(w: Workload, color: str) -> str:
        return f"{w.settings.deployment}-{color}"
