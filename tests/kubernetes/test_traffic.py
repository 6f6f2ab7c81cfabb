"""Every strategy's switch under continuous requests through the emulated Service.

Requests go through `ServiceProxy` — the Service's routes, which follow the EndpointSlices,
which follow pods and selectors, each after a delay — to pods that are real HTTP servers.
Every failed request is counted. The seeded Deployments carry a preStop sleep longer than
those delays (docs/kubernetes.md says why); without one, pods stop while still routed.
"""

from __future__ import annotations

import pytest

from releasegate.processes import wait_until
from tests.kubernetes.conftest import Env, probe
from tests.support.traffic import Traffic


def _run(env: Env, strategy: str, *changes: str) -> Traffic:
    """Deploy (or roll back to) each version of `changes` in turn, under load; the load."""
    target = env.target(strategy)
    load = Traffic(env.url("webapp"))  # quick GETs, slow GETs in flight, POSTs with bodies
    with load.running():
        load.more(5)
        for change in changes:
            kind, version = change.split(" ")
            (target.deploy if kind == "deploy" else target.rollback)(env.releases[version], probe)
            # Routes lag the API: wait until the load is answered by that version alone.
            wait_until(
                lambda v=version: load.versions[-30:] == [v] * 30 and len(load.versions) > 30,
                timeout=10,
                what=f"traffic answered by {version} only",
            )
    print(f"[traffic] {strategy} {', '.join(changes)}: {load.count} requests, "
          f"{len(load.failures)} failed")  # fmt: skip
    return load


@pytest.mark.parametrize(
    ("strategy", "changes"),
    [
        ("rolling", ("deploy 2.0.0", "rollback 1.0.0")),
        ("blue-green", ("deploy 2.0.0", "rollback 1.0.0")),
        ("canary", ("deploy 2.0.0", "rollback 1.0.0")),
    ],
)
def test_switches_lose_no_request(env: Env, strategy: str, changes: tuple[str, ...]) -> None:
    env.seed(strategy, replicas=3)

    load = _run(env, strategy, *changes)

    assert load.failures == []
    assert set(load.versions) == {"1.0.0", "2.0.0"}


def test_recreate_has_a_gap_and_recovers(env: Env) -> None:
    env.seed("recreate")

    load = _run(env, "recreate", "deploy 2.0.0")

    # By design: every old pod stops before the first new one starts.
    assert load.failures, "a Recreate rollout under load should drop requests"
    assert load.versions[-1] == "2.0.0"


def test_without_a_pre_stop_hook_a_rolling_update_drops_requests(env: Env) -> None:
    # The emulator does not flatter: a pod stops as soon as it is deleted, while endpoints
    # and routes still send it requests. That is why the manifests need a preStop sleep.
    env.seed("rolling", pre_stop=None)

    load = _run(env, "rolling", "deploy 2.0.0")

    assert load.failures
    assert {failure.status for failure in load.failures} <= {502, 503}
