"""The same deploy and rollback flows, on the Kubernetes target, chosen by configuration alone.

Runs the real flows on the session's Prefect server against the cluster emulator (API,
controllers, pods that answer with their version, Services) and the Debian registry: not
a real cluster.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate import config as configuration
from releasegate.errors import DeployFailed
from releasegate.flows.deploy import deploy
from releasegate.flows.rollback import rollback
from releasegate.targets.base import TargetError
from releasegate.wiring import open_store
from tests.kubernetes.conftest import Env
from tests.support.toml import table


@pytest.fixture(autouse=True)
def _prefect(prefect_api: str) -> str:
    return prefect_api


def write_config(tmp_path: Path, env: Env, strategy: str, **kube_settings: object) -> Path:
    kube = env.settings(**kube_settings).model_dump(mode="json", exclude_none=True)
    lines = table(None, {"home": tmp_path / "home"})
    lines += table("app", {"name": "webapp"})
    lines += table(
        "environments.production",
        {
            "target": "kubernetes",
            "url": env.url("webapp"),
            "strategy": strategy,
            "smoke": [
                {"path": "/health", "status": 200},
                {"path": "/version", "json": {"version": "{version}"}},
            ],
            "smoke_timeout": "5s",
        },
    )
    lines += table("environments.production.kubernetes", kube)
    path = tmp_path / "kubernetes.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def changes(tmp_path: Path) -> list[tuple[str, str | None, str]]:
    store = open_store(configuration.load(tmp_path / "kubernetes.toml"))
    return [
        (r.kind, r.version, r.status)
        for r in store.newest("production")
        if r.kind in ("deploy", "rollback") and r.status != "started"
    ]


def test_blue_green_deploy_and_rollback_through_the_flows(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.seed("blue-green", "1.0.0")
    config = str(write_config(tmp_path, env, "blue-green"))
    monkeypatch.setenv("RELEASEGATE_CONFIG", config)  # the flows read it, as served ones do
    v2 = env.releases["2.0.0"]
    deploy(version="1.0.0", actor="dave")
    deploy(version="2.0.0", actor="dave")
    live = env.selector("webapp")
    assert env.image(f"webapp-{live['releasegate.io/color']}") == v2.artifact

    before = len(env.calls("patch"))
    assert rollback(environment="production", reason="2.0.0 errors") == "1.0.0"
    # The old colour was still warm: the rollback is one selector patch, nothing else.
    assert [(c.verb, c.resource) for c in env.calls("patch")[before:]] == [("patch", "services")]
    assert changes(tmp_path)[:3] == [
        ("rollback", "1.0.0", "succeeded"),
        ("deploy", "2.0.0", "succeeded"),
        ("deploy", "1.0.0", "succeeded"),
    ]
    record = next(open_store(configuration.load(config)).newest("production"))
    assert record.artifact == env.releases["1.0.0"].digest
    assert record.details["before"]["live"]  # the state before the change is recorded


def test_a_stuck_rollout_of_one_replica_is_rolled_back_and_recorded_as_such(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With replicas: 1 the rollback's first sync keeps the stuck rollout's deadline
    # condition (one slow sync here): the rollback succeeds and must be recorded so.
    env.seed("rolling", "1.0.0", replicas=1)
    config = str(write_config(tmp_path, env, "rolling", poll_interval=0.02))
    monkeypatch.setenv("RELEASEGATE_CONFIG", config)
    deploy(version="1.0.0", actor="dave")
    env.cluster.api.images.broken.add(env.releases["2.0.0"].artifact)
    env.cluster.api.sync_period = 0.3
    with pytest.raises(DeployFailed, match="progress deadline"):
        deploy(version="2.0.0", actor="dave")
    assert env.image("webapp") == env.releases["1.0.0"].artifact
    assert changes(tmp_path)[:2] == [
        ("rollback", "1.0.0", "succeeded"),
        ("deploy", "2.0.0", "failed"),
    ]


def test_a_missing_image_tag_fails_the_build_and_changes_nothing(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.seed("rolling", "1.0.0")
    monkeypatch.setenv("RELEASEGATE_CONFIG", str(write_config(tmp_path, env, "rolling")))
    with pytest.raises(TargetError, match=r"9\.9\.9"):
        deploy(version="9.9.9", actor="dave")
    assert env.calls("patch") == []
    assert changes(tmp_path) == []
