"""Traffic through the environment's URL while releases switch: not one request may fail."""

from __future__ import annotations

import pytest

from releasegate.targets.local import LocalBuilder, LocalTarget
from tests.support.traffic import Traffic

from .conftest import MakeTarget, Probe


def pids(target: LocalTarget) -> set[int]:
    status = target.status()
    return {status["proxy"]["pid"]} | {i["pid"] for i in status["instances"] if i["running"]}


def test_blue_green_switch_and_warm_rollback_lose_nothing(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(strategy="blue-green")
    v1, v2 = builder.build("1.0.0"), builder.build("2.0.0")
    target.deploy(v1, probe)

    with Traffic(target.url).running() as traffic:
        traffic.more(100)
        target.deploy(v2, probe)
        traffic.more(100)
        before_rollback = pids(target)
        target.rollback(v1, probe)
        assert pids(target) == before_rollback, "a warm rollback starts no process"
        traffic.more(100)

    assert traffic.failures == []
    assert traffic.count > 300
    switches = [v for i, v in enumerate(traffic.versions) if i == 0 or traffic.versions[i - 1] != v]
    assert switches[0] == "1.0.0"
    assert {"1.0.0", "2.0.0"} <= set(switches)
    assert traffic.versions[-1] == "1.0.0"


@pytest.mark.parametrize("strategy", ["rolling", "canary"])
def test_draining_strategies_lose_nothing(
    strategy: str, builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(strategy=strategy)
    target.deploy(builder.build("1.0.0"), probe)

    with Traffic(target.url).running() as traffic:
        traffic.more(100)
        target.deploy(builder.build("2.0.0"), probe)
        traffic.more(100)

    assert traffic.failures == []
    assert {"1.0.0", "2.0.0"} <= set(traffic.versions)
    assert traffic.versions[-1] == "2.0.0"
