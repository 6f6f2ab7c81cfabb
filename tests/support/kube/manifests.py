"""Manifests as a platform team would apply them before releasegate's first deploy."""

from __future__ import annotations

from typing import Any

PRE_STOP_SECONDS = 1
"""Long enough for endpoints and routes to drop a terminating pod before it stops (docs say so)."""


def deployment(
    name: str,
    container: str,
    image: str,
    *,
    labels: dict[str, str],
    replicas: int = 2,
    strategy: dict[str, Any] | None = None,
    pre_stop: int | None = PRE_STOP_SECONDS,
    progress_deadline: int = 2,
) -> dict[str, Any]:
    """A Deployment (the controller rolls it out once stored).

    `progress_deadline` is in seconds, as on a real cluster: condition times have whole
    seconds, so 2 s means "no progress for more than 1 s".
    """
    app: dict[str, Any] = {"name": container, "image": image}
    if pre_stop is not None:
        app["lifecycle"] = {"preStop": {"sleep": {"seconds": pre_stop}}}
    return {
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": progress_deadline,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": dict(labels)},
            "strategy": strategy
            or {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"terminationGracePeriodSeconds": 30, "containers": [app]},
            },
        },
    }


def service(name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"selector": dict(selector), "ports": [{"port": 80, "targetPort": 8080}]},
    }
