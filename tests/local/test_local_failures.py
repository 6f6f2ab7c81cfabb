"""A release that is unfit for traffic never takes it from the one serving."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from releasegate.targets.base import TargetError
from releasegate.targets.local.bundle import LocalBuilder
from releasegate.targets.local.target import LocalTarget

from .conftest import MakeTarget, Probe, broken_copy, get_version

HEALTHY = 'return HTTPStatus.OK, "application/json", as_json({"status": "ok"})'
UNHEALTHY = 'return HTTPStatus.INTERNAL_SERVER_ERROR, "application/json", as_json({})'
MAIN = "def main("
CRASH_AT_START = 'raise SystemExit("boom: no config")\n\n\n'


def running(target: LocalTarget) -> list[tuple[str, str, int]]:
    """(version, role, pid) of the instances that run."""
    return sorted(
        (i["version"], i["role"], i["pid"]) for i in target.status()["instances"] if i["running"]
    )


def test_blue_green_release_that_crashes_leaves_old_serving(
    home: Path,
    builder: LocalBuilder,
    make_target: MakeTarget,
    probe: Probe,
    source: Path,
    tmp_path: Path,
) -> None:
    target = make_target()
    target.deploy(builder.build("1.0.0"), probe)
    before = running(target)
    crashing = broken_copy(source, tmp_path / "crashing", MAIN, CRASH_AT_START + MAIN)
    bad = LocalBuilder(home, "webapp", crashing).build("2.0.0")

    with pytest.raises(TargetError, match="exited") as failure:
        target.deploy(bad, probe)

    assert "boom: no config" in str(failure.value), "the error quotes the instance's log"
    assert get_version(target.url) == "1.0.0"
    assert running(target) == before


def test_rolling_failure_midway_stops_new_instances(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(strategy="rolling", replicas=2)
    target.deploy(builder.build("1.0.0"), probe)
    v2 = builder.build("2.0.0")
    probed_v2: list[str] = []

    def second_v2_rejected(base_url: str) -> bool:
        if get_version(base_url) == "2.0.0":
            probed_v2.append(base_url)
            return len(probed_v2) < 2
        return probe(base_url)

    with pytest.raises(TargetError, match="probe rejected"):
        target.deploy(v2, second_v2_rejected)

    assert len(probed_v2) == 2, "the first new instance went in before the second failed"
    assert get_version(target.url) == "1.0.0"
    assert [(v, r) for v, r, _ in running(target)] == [("1.0.0", "live")]
    for url in probed_v2:
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, trust_env=False)


def test_canary_failure_gives_stable_all_traffic_back(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(strategy="canary")
    target.deploy(builder.build("1.0.0"), probe)
    before = running(target)
    canary_probes = 0

    def fails_at_second_step(base_url: str) -> bool:
        nonlocal canary_probes
        if get_version(base_url) == "2.0.0":
            canary_probes += 1
            return canary_probes < 3  # start, 10 %, then rejected at 50 %
        return probe(base_url)

    with pytest.raises(TargetError, match="probe rejected"):
        target.deploy(builder.build("2.0.0"), fails_at_second_step)

    assert running(target) == before, "stable instances are neither stopped nor restarted"
    assert {i["weight"] for i in target.status()["instances"]} == {1}
    assert get_version(target.url) == "1.0.0"


def test_recreate_failure_leaves_nothing_serving(
    home: Path,
    builder: LocalBuilder,
    make_target: MakeTarget,
    probe: Probe,
    source: Path,
    tmp_path: Path,
) -> None:
    target = make_target(strategy="recreate", startup_timeout=1.5)
    target.deploy(builder.build("1.0.0"), probe)
    unhealthy = broken_copy(source, tmp_path / "unhealthy", HEALTHY, UNHEALTHY)
    bad = LocalBuilder(home, "webapp", unhealthy).build("2.0.0")

    with pytest.raises(TargetError, match=r"/health did not answer 200 within 1.5s \(last: 500\)"):
        target.deploy(bad, probe)

    response = httpx.get(target.url, trust_env=False)
    assert response.status_code == 503
    assert "no live backend" in response.text
    assert target.current() is None
    assert running(target) == []
