"""Every strategy's happy path, and rollback, against the emulator over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from releasegate.targets.base import TargetError
from releasegate.targets.kubernetes.workload import SCALE_DOWN_AFTER
from tests.kubernetes.conftest import COLOR, TRACK, Env, probe


def test_rolling_deploys_by_digest_and_waits_for_the_rollout(env: Env) -> None:
    env.seed("rolling")
    target = env.target("rolling")
    v1, v2 = env.releases["1.0.0"], env.releases["2.0.0"]

    before = target.snapshot()
    target.deploy(v2, probe)

    assert before["deployments"]["webapp"]["digest"] == v1.digest
    assert [r["images"] for r in before["replicasets"]] == [[v1.artifact]]
    dep = env.get("webapp")
    assert env.image("webapp") == v2.artifact and "@sha256:" in v2.artifact
    # Returned only once the controller reported the new generation fully available.
    assert dep["status"]["observedGeneration"] == dep["metadata"]["generation"] == 2
    assert dep["status"]["availableReplicas"] == dep["status"]["replicas"] == 2
    current = target.current()
    assert current is not None and (current.version, current.digest) == ("2.0.0", v2.digest)
    assert current.detail["revision"] == "2"
    assert target.snapshot()["replicasets"][-1]["images"] == [v2.artifact]
    # The image write was a JSON Patch guarded by a test of the container's position and name.
    (patch,) = env.calls("patch", "deployments")
    assert patch.body[0] == {"op": "test", "path": "/spec/template/spec/containers/0/name",
                             "value": "app"}  # fmt: skip


def test_rolling_rollback_restores_the_whole_recorded_pod_template(env: Env) -> None:
    env.seed("rolling")
    recorded = env.get("webapp")["spec"]["template"]
    target = env.target("rolling")
    target.deploy(env.releases["2.0.0"], probe)

    def someone_adds_a_sidecar_and_an_env_var(dep: dict[str, Any]) -> None:
        spec = dep["spec"]["template"]["spec"]
        spec["containers"][0]["env"] = [{"name": "FEATURE_X", "value": "on"}]
        spec["containers"].append({"name": "proxy", "image": "envoy@sha256:" + "e" * 64})

    env.change("webapp", someone_adds_a_sidecar_and_an_env_var)
    env.cluster.wait_settled(env.namespace)

    target.rollback(env.releases["1.0.0"], probe)

    # What kubectl rollout undo does: revision 1's template, whole, not just its image.
    assert env.get("webapp")["spec"]["template"] == recorded
    history = target.snapshot()["replicasets"]
    assert history[-1]["images"] == [env.releases["1.0.0"].artifact]  # its ReplicaSet, reused
    assert [r["revision"] for r in history] == ["2", "3", "4"]
    assert target.current().version == "1.0.0"


def test_recreate_sets_the_deployment_strategy(env: Env) -> None:
    env.seed("recreate")
    target = env.target("recreate")

    target.deploy(env.releases["2.0.0"], probe)

    dep = env.get("webapp")
    assert dep["spec"]["strategy"] == {"type": "Recreate"}  # rollingUpdate dropped, as required
    assert env.image("webapp") == env.releases["2.0.0"].artifact
    assert target.current().version == "2.0.0"


def test_blue_green_deploys_to_the_idle_colour_probes_then_switches(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green")
    v2 = env.releases["2.0.0"]
    assert target.current().version == "1.0.0"

    target.deploy(v2, probe)

    assert env.selector("webapp") == {"app": "webapp", COLOR: "green"}
    assert env.image("webapp-green") == v2.artifact
    assert env.get("webapp-green")["spec"]["replicas"] == 2
    # The check counted 3 consecutive passes through the preview Service, answered by green.
    last = env.hits("webapp-preview")[-3:]
    assert [(h.pod or "").startswith("webapp-green-") and h.status for h in last] == [200] * 3
    # The old colour stays warm, marked for a later scale-down; preview now reaches it.
    blue = env.get("webapp-blue")
    assert blue["spec"]["replicas"] == 2 and SCALE_DOWN_AFTER in blue["metadata"]["annotations"]
    assert env.selector("webapp-preview")[COLOR] == "blue"
    assert target.current().version == "2.0.0"
    assert target.snapshot()["live"] == "webapp-green"
    # deploy() returned once the live Service's endpoints were green's pods only.
    live = env.endpoints("webapp")
    assert len(live) == 2 and all(p.startswith("webapp-green-") for p in live)


def test_blue_green_rollback_is_one_selector_patch(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green")
    target.deploy(env.releases["2.0.0"], probe)
    env.cluster.api.calls.clear()

    target.rollback(env.releases["1.0.0"], probe)

    writes = [c for c in env.calls() if c.verb not in ("get", "list")]
    assert len(writes) == 1
    (patch,) = writes
    assert (patch.verb, patch.resource, patch.name) == ("patch", "services", "webapp")
    assert patch.body["spec"] == {"selector": {COLOR: "blue"}}
    assert target.current().version == "1.0.0"
    endpoints = env.endpoints("webapp")
    assert endpoints and all(p.startswith("webapp-blue-") for p in endpoints)


def test_blue_green_rollback_redeploys_the_recorded_template_once_the_old_colour_is_gone(
    env: Env,
) -> None:
    env.seed("blue-green")
    recorded = env.get("webapp-blue")["spec"]["template"]
    target = env.target("blue-green")
    target.deploy(env.releases["2.0.0"], probe)

    def reaped_then_given_v2s_settings(dep: dict[str, Any]) -> None:
        dep["spec"]["replicas"] = 0
        dep["spec"]["template"]["spec"]["containers"][0]["env"] = [
            {"name": "V2_ONLY", "value": "1"}
        ]

    env.change("webapp-blue", reaped_then_given_v2s_settings)
    env.cluster.wait_settled(env.namespace)  # its new template has a ReplicaSet (at zero)

    target.rollback(env.releases["1.0.0"], probe)

    assert env.selector("webapp")[COLOR] == "blue"
    assert env.get("webapp-blue")["spec"]["replicas"] == 2
    assert env.get("webapp-blue")["spec"]["template"] == recorded
    assert target.current().version == "1.0.0"


def test_blue_green_reap_scales_the_idle_colour_down_once_its_delay_has_passed(env: Env) -> None:
    env.seed("blue-green")
    target = env.target("blue-green")
    target.deploy(env.releases["2.0.0"], probe)

    target.reap()
    assert env.get("webapp-blue")["spec"]["replicas"] == 2  # not yet: at least 30 s

    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
    env.change(
        "webapp-blue", lambda d: d["metadata"]["annotations"].update({SCALE_DOWN_AFTER: past})
    )
    target.reap()

    assert env.get("webapp-blue")["spec"]["replicas"] == 0
    assert env.get("webapp-green")["spec"]["replicas"] == 2  # never the live colour


def _scales(env: Env, name: str) -> list[int]:
    """Every replica count the target wrote to Deployment `name`, in order."""
    sizes = []
    for call in env.calls("patch", "deployments"):
        if call.name != name:
            continue
        if isinstance(call.body, list):
            sizes += [op["value"] for op in call.body if op["path"] == "/spec/replicas"]
        elif "replicas" in (call.body.get("spec") or {}):
            sizes.append(call.body["spec"]["replicas"])
    return sizes


def test_canary_steps_are_shares_of_traffic_then_promotes(env: Env) -> None:
    env.seed("canary", replicas=4)
    target = env.target("canary", canary_steps=[25, 50, 100])
    v2 = env.releases["2.0.0"]
    shares: list[float] = []
    http = httpx.Client(base_url=env.url("webapp"))

    def measure_then_probe(url: str) -> bool:
        answers = [http.get("/version").json()["version"] for _ in range(40)]
        shares.append(answers.count("2.0.0") / len(answers))
        return probe(url)

    with http:
        target.deploy(v2, measure_then_probe)

    assert _scales(env, "webapp-canary") == [1, 2, 0]  # 25% and 50% of 4, then done
    assert _scales(env, "webapp") == [3, 2, 4]  # stable makes room, then takes it all back
    # What the live Service served at each step's last probe (routes lag the EndpointSlice).
    assert len(shares) == 6 and shares[2::3] == [0.25, 0.5]
    assert env.image("webapp") == v2.artifact and env.get("webapp")["spec"]["replicas"] == 4
    assert "releasegate.io/replicas" not in env.get("webapp")["metadata"]["annotations"]
    assert target.current().version == "2.0.0"


def test_canary_smoke_failure_scales_canary_to_zero_and_restores_stable(env: Env) -> None:
    env.seed("canary", replicas=4)
    target = env.target("canary")
    v2 = env.releases["2.0.0"]
    env.cluster.api.images.unhealthy.add(v2.artifact)

    with pytest.raises(TargetError) as failure:
        target.deploy(v2, probe)
    assert "smoke check" in str(failure.value) and "back to 4 pods" in str(failure.value)

    assert env.get("webapp-canary")["spec"]["replicas"] == 0
    assert env.get("webapp")["spec"]["replicas"] == 4
    assert env.image("webapp") == env.releases["1.0.0"].artifact
    assert target.current().version == "1.0.0"
    assert TRACK in env.get("webapp-canary")["spec"]["template"]["metadata"]["labels"]


def test_canary_rollback_restores_stable_at_full_size(env: Env) -> None:
    env.seed("canary", replicas=3)
    target = env.target("canary")
    target.deploy(env.releases["2.0.0"], probe)

    target.rollback(env.releases["1.0.0"], probe)

    assert env.image("webapp") == env.releases["1.0.0"].artifact
    assert env.get("webapp")["spec"]["replicas"] == 3
    assert env.get("webapp-canary")["spec"]["replicas"] == 0
    assert target.current().version == "1.0.0"
