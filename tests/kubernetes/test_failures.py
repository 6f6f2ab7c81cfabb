"""Failures the emulator provokes for real: stuck and paused rollouts, lagging routes, races."""

from __future__ import annotations

import time
from typing import Any

import pytest

from releasegate.targets.base import TargetError
from tests.kubernetes.conftest import COLOR, Env, probe


def test_stuck_rollout_fails_and_rollback_to_the_previous_digest_works(env: Env) -> None:
    env.seed("rolling")
    target = env.target("rolling")
    v1, v2 = env.releases["1.0.0"], env.releases["2.0.0"]
    env.cluster.api.images.broken.add(v2.artifact)  # its pods never become ready

    with pytest.raises(TargetError, match="exceeded its progress deadline"):
        target.deploy(v2, probe)

    # What the flow's automatic rollback does: restore the recorded previous release.
    target.rollback(v1, probe)
    dep = env.get("webapp")
    assert env.image("webapp") == v1.artifact
    assert dep["status"]["availableReplicas"] == 2
    assert target.current().digest == v1.digest


def test_a_stale_deadline_condition_does_not_fail_the_rollback_that_clears_it(env: Env) -> None:
    # replicas: 1 — on the rollback's first sync the stuck pod still counts, so the
    # controller sees no progress and keeps ProgressDeadlineExceeded beside the new
    # observedGeneration for one sync (a slow one here, so a poll cannot miss it).
    env.seed("rolling", replicas=1)
    target = env.target("rolling", poll_interval=0.02)
    v1, v2, v3 = (env.releases[v] for v in ("1.0.0", "2.0.0", "3.0.0"))
    env.cluster.api.images.broken.update({v2.artifact, v3.artifact})
    with pytest.raises(TargetError, match="exceeded its progress deadline"):
        target.deploy(v2, probe)
    env.cluster.api.sync_period = 0.3

    target.rollback(v1, probe)

    assert target.current().digest == v1.digest
    assert env.get("webapp")["status"]["availableReplicas"] == 1
    # A deadline that postdates our change is still a failure, reported as such.
    env.cluster.api.sync_period = 0.05
    with pytest.raises(TargetError, match="exceeded its progress deadline"):
        target.deploy(v3, probe)


def test_rollout_timeout_is_a_failure(env: Env) -> None:
    env.seed("rolling")
    target = env.target("rolling", rollout_timeout=0.2)
    env.cluster.api.sync_period = 1.0  # the controller is slower than our patience
    with pytest.raises(TargetError, match=r"not complete after 0.2s"):
        target.deploy(env.releases["2.0.0"], probe)


@pytest.mark.parametrize("strategy", ["rolling", "blue-green", "canary"])
def test_a_paused_deployment_fails_at_once_naming_the_pause(env: Env, strategy: str) -> None:
    env.seed(strategy)
    paused = "webapp-green" if strategy == "blue-green" else "webapp"
    env.change(paused, lambda d: d["spec"].update(paused=True))
    target = env.target(strategy, rollout_timeout=5)

    started = time.monotonic()
    with pytest.raises(TargetError, match=rf"deployment '{paused}' is paused") as failure:
        target.deploy(env.releases["2.0.0"], probe)

    assert "kubectl rollout resume" in str(failure.value)
    assert time.monotonic() - started < 5  # not the rollout timeout
    assert env.calls("patch") == []  # nothing was changed
    assert target.current().version == "1.0.0"


def test_blue_green_stuck_rollout_leaves_the_live_colour_serving(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green")
    env.cluster.api.images.broken.add(env.releases["2.0.0"].artifact)

    with pytest.raises(TargetError, match=r"progress deadline.*untouched"):
        target.deploy(env.releases["2.0.0"], probe)

    assert env.selector("webapp")[COLOR] == "blue"
    assert env.get("webapp-green")["spec"]["replicas"] == 0
    assert target.current().version == "1.0.0"


def test_blue_green_failed_probe_does_not_switch(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green")
    env.cluster.api.images.unhealthy.add(env.releases["2.0.0"].artifact)

    with pytest.raises(TargetError, match="failed its smoke check"):
        target.deploy(env.releases["2.0.0"], probe)

    assert env.selector("webapp")[COLOR] == "blue"
    assert not [c for c in env.calls("patch", "services") if c.name == "webapp"]


def test_a_health_only_check_is_not_passed_by_the_old_colour_behind_a_lagging_preview(
    env: Env,
) -> None:
    # After a rollback the preview Service still selects the live colour. The next deploy
    # points it at the other colour, whose endpoints and routes follow only later: a probe
    # sent at once is answered by the live (old) release, and /health says nothing else.
    env.seed("blue-green")
    target = env.target("blue-green")
    target.deploy(env.releases["2.0.0"], probe)
    target.rollback(env.releases["1.0.0"], probe)
    assert env.selector("webapp-preview")[COLOR] == env.selector("webapp")[COLOR] == "blue"
    env.cluster.api.images.unhealthy.add(env.releases["3.0.0"].artifact)

    with pytest.raises(TargetError, match="failed its smoke check"):
        target.deploy(env.releases["3.0.0"], probe)

    assert env.selector("webapp")[COLOR] == "blue"
    assert target.current().version == "1.0.0"


def test_missing_deployment_is_a_clear_error(env: Env) -> None:
    target = env.target("rolling")
    with pytest.raises(
        TargetError, match=rf"deployments.apps 'webapp' not found in namespace '{env.namespace}'"
    ):
        target.deploy(env.releases["2.0.0"], probe)


def test_missing_namespace_is_a_clear_error(env: Env) -> None:
    # No RoleBinding can exist in a namespace that does not: the API server says 403.
    target = env.target("rolling", namespace="no-such-namespace")
    with pytest.raises(TargetError, match="does not exist, also answers 403"):
        target.current()


def test_concurrent_change_of_the_container_list_is_retried_on_a_fresh_read(env: Env) -> None:
    env.seed("rolling")
    sidecar = {"name": "proxy", "image": "envoy@sha256:" + "e" * 64}

    def someone_adds_a_sidecar_first(dep: dict[str, Any]) -> None:
        dep["spec"]["template"]["spec"]["containers"].insert(0, sidecar)

    env.cluster.api.after_get[("deployments", env.namespace, "webapp")] = (
        someone_adds_a_sidecar_first
    )
    target = env.target("rolling")
    target.deploy(env.releases["2.0.0"], probe)

    containers = env.get("webapp")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["proxy", "app"]
    assert containers[1]["image"] == env.releases["2.0.0"].artifact
    first, second = env.calls("patch", "deployments")[:2]
    assert first.body[0]["path"] == "/spec/template/spec/containers/0/name"  # stale: test failed
    assert second.body[0]["path"] == "/spec/template/spec/containers/1/name"  # fresh read


def test_concurrent_service_change_is_a_409_retried_not_forced(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green")
    target.deploy(env.releases["2.0.0"], probe)

    def someone_changes_it(svc: dict[str, Any]) -> None:
        svc["spec"].setdefault("sessionAffinity", "ClientIP")  # a spec change: new resourceVersion

    env.cluster.api.after_get[("services", env.namespace, "webapp")] = someone_changes_it
    env.cluster.api.calls.clear()
    target.rollback(env.releases["1.0.0"], probe)

    patches = env.calls("patch", "services")
    assert len(patches) == 2  # the first carried the stale resourceVersion and got 409
    assert (
        patches[0].body["metadata"]["resourceVersion"]
        != patches[1].body["metadata"]["resourceVersion"]
    )
    svc = env.get("webapp", "services")
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
