"""The emulator answers as a real cluster would, where the target's correctness depends on it.

Each test states a real API server's or controller's behaviour (with its source) and checks
the emulator against it through the official client or raw HTTP, as the target sees it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from releasegate.processes import wait_until
from tests.kubernetes.conftest import Env
from tests.support.kube import ClusterEmulator


def _apps(env: Env, context: str = "emulator") -> client.AppsV1Api:
    api = config.new_client_from_config(str(env.cluster.kubeconfig), context=context)
    return client.AppsV1Api(api)


def _refusal(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as refused:
        call()
    return refused.value.status, json.loads(refused.value.body)


def _patch(env: Env, patch: Any, kind: str = "application/merge-patch+json") -> Any:
    return lambda: _apps(env).patch_namespaced_deployment(
        "webapp", env.namespace, patch, _content_type=kind
    )


def test_permissions_are_the_shipped_role_as_an_allowlist(env: Env) -> None:
    env.seed("rolling")
    apps = _apps(env)
    # Not granted: another verb, another name — 403 whether or not the object exists.
    for call in (
        lambda: apps.delete_namespaced_deployment("webapp", env.namespace),
        lambda: apps.list_namespaced_deployment(env.namespace),
        lambda: apps.read_namespaced_deployment("payments", env.namespace),
    ):
        code, body = _refusal(call)
        assert (code, body["reason"]) == (403, "Forbidden")
        assert "system:serviceaccount:releasegate:releasegate-deployer" in body["message"]
    # Granted but missing: 404.
    code, body = _refusal(lambda: apps.read_namespaced_deployment("webapp-blue", env.namespace))
    assert (code, body["message"]) == (404, 'deployments.apps "webapp-blue" not found')
    # No credentials: 401.
    url = f"{env.cluster.url}/apis/apps/v1/namespaces/{env.namespace}/deployments/webapp"
    assert httpx.get(url).status_code == 401


def test_validation_answers_422_with_causes_and_a_failed_test_op_without(env: Env) -> None:
    env.seed("rolling")
    for patch, field in (
        ({"spec": {"strategy": {"type": "Recreate"}}}, "spec.strategy.rollingUpdate"),
        ({"spec": {"selector": {"matchLabels": {"app": "other"}}}}, "spec.selector"),
        ({"spec": {"template": {"metadata": {"labels": {"app": "other"}}}}},
         "spec.template.metadata.labels"),
        ({"spec": {"replicas": -1}}, "spec.replicas"),
    ):  # fmt: skip
        code, body = _refusal(_patch(env, patch))
        assert (code, body["reason"]) == (422, "Invalid")
        assert field in [c["field"] for c in body["details"]["causes"]]
        assert body["message"].startswith('Deployment.apps "webapp" is invalid: ')
    failed_test = [{"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "x"}]
    code, body = _refusal(_patch(env, failed_test, "application/json-patch+json"))
    # patch.go keeps nothing of the JSON Patch error: the generic 422, no causes.
    assert (code, body["details"]) == (422, {})
    assert body["message"] == "the server rejected our request due to an error in our request"
    code, body = _refusal(_patch(env, {"metadata": {"resourceVersion": "1"}, "spec": {}}))
    assert (code, body["reason"]) == (409, "Conflict")


def _ready_pods(env: Env) -> int:
    def count(e: ClusterEmulator) -> int:
        return sum(p.ready for p in e.kubelet.pods.values() if p.namespace == env.namespace)

    return int(env.cluster.run(count))


def _during_rollout(env: Env, sample: Callable[[], int]) -> list[int]:
    """Samples taken from a patch of the image until the rollout is done."""
    image = [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
              "value": env.releases["2.0.0"].artifact}]  # fmt: skip
    _patch(env, image, "application/json-patch+json")()
    samples: list[int] = []

    def done() -> bool:
        samples.append(sample())
        status = env.get("webapp").get("status") or {}
        return bool(status.get("updatedReplicas") == 3 and status.get("replicas") == 3
                    and status.get("observedGeneration") == 2
                    and status.get("availableReplicas") == 3)  # fmt: skip

    wait_until(done, timeout=15, interval=0.02, what="rollout done")
    return samples


@pytest.mark.parametrize(
    ("rolling_update", "fewest", "most"),
    [({"maxSurge": 1, "maxUnavailable": 0}, 3, 4), ({"maxSurge": 0, "maxUnavailable": 1}, 2, 3)],
)
def test_a_rolling_update_keeps_to_max_surge_and_max_unavailable(
    env: Env, rolling_update: dict[str, int], fewest: int, most: int
) -> None:
    env.seed("rolling", replicas=3,
             strategy={"type": "RollingUpdate", "rollingUpdate": rolling_update})  # fmt: skip

    def pods(e: ClusterEmulator) -> tuple[int, int]:
        mine = [p for p in e.kubelet.pods.values() if p.namespace == env.namespace]
        return sum(p.ready for p in mine), sum(not p.deleting for p in mine)

    samples = _during_rollout(env, lambda: env.cluster.run(pods))
    assert min(ready for ready, _ in samples) >= fewest
    assert max(live for _, live in samples) <= most


def test_recreate_stops_every_old_pod_before_starting_a_new_one(env: Env) -> None:
    env.seed("recreate", replicas=3, strategy={"type": "Recreate"})
    samples = _during_rollout(env, lambda: _ready_pods(env))
    assert 0 in samples  # the gap


def test_a_selector_change_reaches_the_endpoint_slice_later(env: Env) -> None:
    env.seed("blue-green")
    before = env.endpoints("webapp")
    env.change("webapp-green", lambda d: d["spec"].update(replicas=2))
    env.cluster.wait_settled(env.namespace)
    core = client.CoreV1Api(config.new_client_from_config(str(env.cluster.kubeconfig)))
    patch = {"spec": {"selector": {"releasegate.io/color": "green"}}}
    core.patch_namespaced_service("webapp", env.namespace, patch,
                                  _content_type="application/merge-patch+json")  # fmt: skip

    assert env.endpoints("webapp") == before  # not yet: endpoint_delay
    wait_until(lambda: all(p.startswith("webapp-green-") for p in env.endpoints("webapp")),
               timeout=5, what="endpoints follow the selector")  # fmt: skip


def test_a_reused_replicaset_keeps_the_stale_deadline_condition_for_a_sync(env: Env) -> None:
    env.seed("rolling", replicas=1)
    env.cluster.api.images.broken.add(env.releases["2.0.0"].artifact)
    image = env.releases["1.0.0"].artifact

    def set_image(artifact: str) -> None:
        _patch(env, [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                      "value": artifact}], "application/json-patch+json")()  # fmt: skip

    def reason() -> str | None:
        conds = (env.get("webapp").get("status") or {}).get("conditions") or []
        return next((c["reason"] for c in conds if c["type"] == "Progressing"), None)

    set_image(env.releases["2.0.0"].artifact)
    wait_until(lambda: reason() == "ProgressDeadlineExceeded", timeout=10, what="stuck")
    env.cluster.api.sync_period = 0.3
    set_image(image)  # a rollback: revision 1's ReplicaSet is reused
    seen: list[tuple[bool, str | None]] = []

    def observed() -> bool:
        dep = env.get("webapp")
        seen.append((dep["status"]["observedGeneration"] == dep["metadata"]["generation"],
                     reason()))  # fmt: skip
        return seen[-1] == (True, "NewReplicaSetAvailable")

    wait_until(observed, timeout=10, interval=0.02, what="rolled back")
    assert (True, "ProgressDeadlineExceeded") in seen  # observed, yet still "timed out"


def test_a_paused_deployment_is_observed_but_not_rolled_out(env: Env) -> None:
    env.seed("rolling")
    env.change("webapp", lambda d: d["spec"].update(paused=True))
    new_image = env.releases["2.0.0"].artifact
    _patch(env, [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                  "value": new_image}], "application/json-patch+json")()  # fmt: skip

    def observed() -> bool:
        dep = env.get("webapp")
        return bool(dep["status"]["observedGeneration"] == dep["metadata"]["generation"])

    wait_until(observed, timeout=5, what="observed")
    status = env.get("webapp")["status"]
    assert status["updatedReplicas"] == 0 and status["availableReplicas"] == 2
    assert [c["reason"] for c in status["conditions"] if c["type"] == "Progressing"] == [
        "DeploymentPaused"
    ]
    assert len(env.cluster.replicasets(env.namespace, "webapp")) == 1
