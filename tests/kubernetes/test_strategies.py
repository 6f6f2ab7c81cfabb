"""Every strategy's happy path, and rollback, against the emulator over real HTTP."""

from __future__ import annotations

from conftest import TRACK, Env, probe

from releasegate.targets.kubernetes.bluegreen import COLOR
from releasegate.targets.kubernetes.workload import SCALE_DOWN_AFTER


def test_rolling_deploys_by_digest_and_waits_for_the_rollout(env: Env) -> None:
    env.seed("rolling")
    target = env.target("rolling")
    v1, v2 = env.releases["1.0.0"], env.releases["2.0.0"]

    before = target.snapshot()
    target.deploy(v2, probe)

    assert before["deployments"]["web"]["digest"] == v1.digest
    assert [r["images"] for r in before["replicasets"]] == [[v1.artifact]]
    dep = env.get("web")
    assert env.image("web") == v2.artifact and "@sha256:" in v2.artifact
    # Returned only once the controller reported the new generation fully available.
    assert dep["status"]["observedGeneration"] == dep["metadata"]["generation"] == 2
    assert dep["status"]["availableReplicas"] == 2
    current = target.current()
    assert current is not None and (current.version, current.digest) == ("2.0.0", v2.digest)
    assert current.detail["revision"] == "2"
    assert target.snapshot()["replicasets"][-1]["images"] == [v2.artifact]
    # The image write was a JSON Patch guarded by a test of the container's position and name.
    (patch,) = env.calls("patch", "deployments")
    assert patch.body[0] == {"op": "test", "path": "/spec/template/spec/containers/0/name",
                             "value": "app"}  # fmt: skip


def test_rolling_rollback_redeploys_the_recorded_digest(env: Env) -> None:
    env.seed("rolling")
    target = env.target("rolling")
    target.deploy(env.releases["2.0.0"], probe)

    target.rollback(env.releases["1.0.0"], probe)

    assert env.image("web") == env.releases["1.0.0"].artifact
    assert target.current().version == "1.0.0"
    # The controller reused revision 1's ReplicaSet and gave it the next revision, as k8s does.
    history = target.snapshot()["replicasets"]
    assert [(r["revision"], r["images"][0]) for r in history] == [
        ("2", env.releases["2.0.0"].artifact),
        ("3", env.releases["1.0.0"].artifact),
    ]


def test_recreate_sets_the_deployment_strategy(env: Env) -> None:
    env.seed("recreate")
    target = env.target("recreate")

    target.deploy(env.releases["2.0.0"], probe)

    dep = env.get("web")
    assert dep["spec"]["strategy"] == {"type": "Recreate"}  # rollingUpdate dropped, as required
    assert env.image("web") == env.releases["2.0.0"].artifact
    assert target.current().version == "2.0.0"


def test_blue_green_deploys_to_the_idle_colour_probes_then_switches(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green")
    v2 = env.releases["2.0.0"]
    assert target.current().version == "1.0.0"

    target.deploy(v2, probe)

    assert env.get("web", "services")["spec"]["selector"] == {"app": "web", COLOR: "green"}
    assert env.image("web-green") == v2.artifact
    assert env.get("web-green")["spec"]["replicas"] == 2
    # The preview Service was probed while it routed to green, before the switch.
    assert any(hit.startswith(f"/{env.namespace}/web-preview") for hit in env.ingress.hits)
    # The old colour stays warm, marked for a later scale-down; preview now reaches it.
    blue = env.get("web-blue")
    assert blue["spec"]["replicas"] == 2 and SCALE_DOWN_AFTER in blue["metadata"]["annotations"]
    assert env.get("web-preview", "services")["spec"]["selector"][COLOR] == "blue"
    assert target.current().version == "2.0.0"
    assert target.snapshot()["live"] == "web-green"


def test_blue_green_rollback_is_one_selector_patch(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green")
    target.deploy(env.releases["2.0.0"], probe)
    env.cluster.api.calls.clear()

    target.rollback(env.releases["1.0.0"], probe)

    writes = [c for c in env.calls() if c.verb not in ("get", "list")]
    assert len(writes) == 1
    (patch,) = writes
    assert (patch.verb, patch.resource, patch.name) == ("patch", "services", "web")
    assert patch.body["spec"] == {"selector": {COLOR: "blue"}}
    assert target.current().version == "1.0.0"


def test_blue_green_rollback_redeploys_once_the_old_colour_is_gone(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green", scale_down_delay=0)
    target.deploy(env.releases["2.0.0"], probe)
    assert env.get("web-blue")["spec"]["replicas"] == 0

    target.rollback(env.releases["1.0.0"], probe)

    assert env.get("web", "services")["spec"]["selector"][COLOR] == "blue"
    assert env.get("web-blue")["spec"]["replicas"] == 2
    assert target.current().version == "1.0.0"


def test_blue_green_reap_scales_the_idle_colour_down_after_the_delay(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green", scale_down_delay=0.001)
    target.deploy(env.releases["2.0.0"], probe)

    target.reap()

    assert env.get("web-blue")["spec"]["replicas"] == 0
    assert env.get("web-green")["spec"]["replicas"] == 2  # never the live colour


def test_canary_steps_by_replica_ratio_then_promotes(env: Env) -> None:
    env.seed("canary", replicas=4)
    target = env.target("canary", canary_steps=[25, 50, 100])
    v2 = env.releases["2.0.0"]

    target.deploy(v2, probe)

    canary_sizes = [
        op["value"]
        for c in env.calls("patch", "deployments")
        if c.name == "web-canary" and isinstance(c.body, list)
        for op in c.body if op["path"] == "/spec/replicas"
    ]  # fmt: skip
    assert canary_sizes == [1, 2]  # 25% and 50% of 4
    assert sum(f"/{env.namespace}/web-canary" in hit for hit in env.ingress.hits) == 2
    assert env.image("web") == v2.artifact and env.get("web")["spec"]["replicas"] == 4
    assert env.get("web-canary")["spec"]["replicas"] == 0
    assert target.current().version == "2.0.0"


def test_canary_smoke_failure_scales_canary_to_zero_and_leaves_stable_alone(env: Env) -> None:
    env.seed("canary", replicas=4)
    target = env.target("canary")
    v2 = env.releases["2.0.0"]
    env.ingress.unhealthy_images.add(v2.artifact)

    try:
        target.deploy(v2, probe)
        raise AssertionError("deploy should fail")
    except Exception as e:
        assert "smoke check" in str(e) and "untouched" in str(e)

    assert env.get("web-canary")["spec"]["replicas"] == 0
    assert not [c for c in env.calls("patch") if c.name == "web"]
    assert env.image("web") == env.releases["1.0.0"].artifact
    assert target.current().version == "1.0.0"
    assert TRACK in env.get("web-canary")["spec"]["template"]["metadata"]["labels"]
