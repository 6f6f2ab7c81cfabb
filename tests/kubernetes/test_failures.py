"""Failures the emulator provokes for real: stuck rollouts, 403, 404, concurrent writers."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Env, probe

from releasegate.targets.base import TargetError
from releasegate.targets.kubernetes.bluegreen import COLOR


def test_stuck_rollout_fails_and_rollback_to_the_previous_digest_works(env: Env) -> None:
    env.seed("rolling")
    target = env.target("rolling")
    v1, v2 = env.releases["1.0.0"], env.releases["2.0.0"]
    env.cluster.api.broken_images.add(v2.artifact)  # its pods never become ready

    with pytest.raises(TargetError, match="exceeded its progress deadline"):
        target.deploy(v2, probe)

    # What the flow's automatic rollback does: redeploy the recorded previous digest.
    target.rollback(v1, probe)
    dep = env.get("web")
    assert env.image("web") == v1.artifact
    assert dep["status"]["availableReplicas"] == 2
    assert target.current().digest == v1.digest


def test_rollout_timeout_is_a_failure(env: Env) -> None:
    env.seed("rolling")
    target = env.target("rolling", rollout_timeout=0.1)
    env.cluster.api.step_delay = 1.0  # the controller is slower than our patience
    try:
        with pytest.raises(TargetError, match=r"not complete after 0.1s"):
            target.deploy(env.releases["2.0.0"], probe)
    finally:
        env.cluster.api.step_delay = 0.05


def test_blue_green_stuck_rollout_leaves_the_live_colour_serving(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green")
    env.cluster.api.broken_images.add(env.releases["2.0.0"].artifact)

    with pytest.raises(TargetError, match=r"progress deadline.*untouched"):
        target.deploy(env.releases["2.0.0"], probe)

    assert env.get("web", "services")["spec"]["selector"][COLOR] == "blue"
    assert env.get("web-green")["spec"]["replicas"] == 0
    assert target.current().version == "1.0.0"


def test_blue_green_failed_probe_does_not_switch(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green")
    env.ingress.unhealthy_images.add(env.releases["2.0.0"].artifact)

    with pytest.raises(TargetError, match="failed its smoke check"):
        target.deploy(env.releases["2.0.0"], probe)

    assert env.get("web", "services")["spec"]["selector"][COLOR] == "blue"
    assert not [c for c in env.calls("patch", "services") if c.name == "web"]


def test_missing_deployment_is_a_clear_error(env: Env) -> None:
    target = env.target("rolling")
    with pytest.raises(
        TargetError, match=rf"deployments.apps 'web' not found in namespace '{env.namespace}'"
    ):
        target.deploy(env.releases["2.0.0"], probe)


def test_missing_namespace_is_a_clear_error(env: Env) -> None:
    target = env.target("rolling", namespace="no-such-namespace")
    with pytest.raises(TargetError, match="namespace 'no-such-namespace' does not exist"):
        target.current()


def test_forbidden_names_verb_resource_and_namespace(env: Env) -> None:
    env.seed("rolling")
    env.cluster.api.forbidden.add(("patch", "deployments"))
    target = env.target("rolling")

    with pytest.raises(TargetError) as failure:
        target.deploy(env.releases["2.0.0"], probe)

    message = str(failure.value)
    assert f"cannot patch deployments.apps in namespace '{env.namespace}'" in message
    assert "verb 'patch' on resource 'deployments' of API group 'apps'" in message
    assert env.image("web") == env.releases["1.0.0"].artifact


def test_forbidden_service_read_in_blue_green(env: Env) -> None:
    env.seed("blue-green")
    env.cluster.api.forbidden.add(("get", "services"))
    with pytest.raises(TargetError, match="cannot get services in namespace"):
        env.target("blue-green").deploy(env.releases["2.0.0"], probe)


def test_concurrent_change_of_the_container_list_is_retried_on_a_fresh_read(env: Env) -> None:
    env.seed("rolling")
    sidecar = {"name": "proxy", "image": "envoy:1"}

    def someone_adds_a_sidecar_first(dep: dict[str, Any]) -> None:
        dep["spec"]["template"]["spec"]["containers"].insert(0, sidecar)

    env.cluster.api.after_get[("deployments", env.namespace, "web")] = someone_adds_a_sidecar_first
    target = env.target("rolling")

    target.deploy(env.releases["2.0.0"], probe)

    containers = env.get("web")["spec"]["template"]["spec"]["containers"]
    assert containers == [sidecar, {"name": "app", "image": env.releases["2.0.0"].artifact}]
    first, second = env.calls("patch", "deployments")[:2]
    assert first.body[0]["path"] == "/spec/template/spec/containers/0/name"  # stale: test failed
    assert second.body[0]["path"] == "/spec/template/spec/containers/1/name"  # fresh read


def test_concurrent_service_change_is_a_409_retried_not_forced(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green")
    target.deploy(env.releases["2.0.0"], probe)

    def someone_labels_it(svc: dict[str, Any]) -> None:
        svc["spec"].setdefault("sessionAffinity", "ClientIP")  # a spec change: new resourceVersion

    env.cluster.api.after_get[("services", env.namespace, "web")] = someone_labels_it
    env.cluster.api.calls.clear()
    target.rollback(env.releases["1.0.0"], probe)

    patches = env.calls("patch", "services")
    assert len(patches) == 2  # the first carried the stale resourceVersion and got 409
    assert (
        patches[0].body["metadata"]["resourceVersion"]
        != patches[1].body["metadata"]["resourceVersion"]
    )
    svc = env.get("web", "services")
    assert svc["spec"]["selector"][COLOR] == "blue" and svc["spec"]["sessionAffinity"] == "ClientIP"


def test_wrong_container_name_is_a_clear_error(env: Env) -> None:
    env.seed("rolling")
    with pytest.raises(TargetError, match=r"has no container 'web'.*has: app"):
        env.target("rolling", container="web").deploy(env.releases["2.0.0"], probe)


def test_a_release_for_another_image_is_refused(env: Env) -> None:
    env.seed("rolling")
    other = env.releases["2.0.0"].model_copy(
        update={"artifact": "elsewhere/app@sha256:" + "0" * 64}
    )
    with pytest.raises(TargetError, match="image by digest"):
        env.target("rolling").deploy(other, probe)
