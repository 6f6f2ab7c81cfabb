"""Each strategy's happy path, and rollback."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from releasegate.targets.local.bundle import LocalBuilder
from releasegate.targets.local.target import LocalTarget

from .conftest import MakeTarget, Probe, get_version


def roles(target: LocalTarget) -> Counter[tuple[str, str]]:
    """(version, role) -> number of running instances."""
    status = target.status()
    assert status["proxy"]["running"]
    return Counter((i["version"], i["role"]) for i in status["instances"] if i["running"])


@pytest.mark.parametrize(
    ("strategy", "after"),
    [
        ("blue-green", {("2.0.0", "live"): 2, ("1.0.0", "warm"): 2}),
        ("canary", {("2.0.0", "live"): 2, ("1.0.0", "warm"): 2}),
        ("rolling", {("2.0.0", "live"): 2}),
        ("recreate", {("2.0.0", "live"): 2}),
    ],
)
def test_deploy_then_upgrade(
    strategy: str,
    after: dict[tuple[str, str], int],
    builder: LocalBuilder,
    make_target: MakeTarget,
    probe: Probe,
) -> None:
    target = make_target(strategy=strategy)
    v1, v2 = builder.build("1.0.0"), builder.build("2.0.0")
    assert target.current() is None

    target.deploy(v1, probe)
    assert get_version(target.url) == "1.0.0"
    assert roles(target) == {("1.0.0", "live"): 2}

    target.deploy(v2, probe)
    assert get_version(target.url) == "2.0.0"
    assert roles(target) == after
    current = target.current()
    assert current is not None
    assert (current.version, current.digest) == ("2.0.0", v2.digest)
    v2_urls = {i["url"] for i in target.status()["instances"] if i["version"] == "2.0.0"}
    assert v2_urls <= set(probe.calls), "every new instance is probed before it gets traffic"


def test_blue_green_alternates_colours(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target()
    colours = []
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        target.deploy(builder.build(version), probe)
        colours.append({i["colour"] for i in target.status()["instances"] if i["role"] == "live"})
    assert colours == [{"blue"}, {"green"}, {"blue"}]
    # Only the previous release stays warm; the one before it is stopped.
    assert roles(target) == {("3.0.0", "live"): 2, ("2.0.0", "warm"): 2}


def test_canary_traffic_grows_by_steps(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(strategy="canary", canary_steps=(20, 60, 100))
    target.deploy(builder.build("1.0.0"), probe)
    shares: list[float] = []

    def watching_probe(base_url: str) -> bool:
        """Records the canary's share of the routed weight whenever it is probed."""
        instances: list[dict[str, Any]] = target.status()["instances"]
        canary = sum(i["weight"] for i in instances if i["role"] == "canary")
        total = sum(i["weight"] for i in instances)
        if any(i["role"] == "canary" and i["url"] == base_url for i in instances):
            shares.append(100 * canary / total if total else 0)
        return probe(base_url)

    target.deploy(builder.build("2.0.0"), watching_probe)
    assert shares == [0, 20, 60, 100]
    assert get_version(target.url) == "2.0.0"


def test_rollback_without_warm_release_redeploys(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(strategy="rolling")
    v1, v2 = builder.build("1.0.0"), builder.build("2.0.0")
    target.deploy(v1, probe)
    target.deploy(v2, probe)
    target.rollback(v1, probe)
    assert get_version(target.url) == "1.0.0"
    assert roles(target) == {("1.0.0", "live"): 2}


def test_environment_outlives_the_deploying_process(
    home: Path, source: Path, make_target: MakeTarget, tmp_path: Path
) -> None:
    target = make_target()
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from releasegate.targets.local.bundle import LocalBuilder\n"
        "from releasegate.targets.local.target import LocalTarget\n"
        "home, source, url = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]\n"
        "release = LocalBuilder(home, 'webapp', source).build('4.0.0')\n"
        "LocalTarget(home, 'webapp', 'staging', url).deploy(release, lambda url: True)\n"
    )
    deployer = subprocess.run(
        [sys.executable, "-c", script, str(home), str(source), target.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert deployer.returncode == 0, deployer.stderr
    assert get_version(target.url) == "4.0.0"
    assert roles(target) == {("4.0.0", "live"): 2}


def test_a_deployer_reaching_the_venv_by_another_path_keeps_the_proxy(
    home: Path, source: Path, make_target: MakeTarget, builder: LocalBuilder, probe: Probe
) -> None:
    # The CLI's console script runs `.venv/bin/python3`, a flow run `.venv/bin/python`: the
    # same interpreter by two paths must not restart the proxy (and drop the URL meanwhile).
    alias = Path(sys.executable).with_name("python3")
    if alias == Path(sys.executable) or not alias.exists():
        alias = Path(sys.executable).with_name("python")
    assert alias != Path(sys.executable) and alias.exists()
    target = make_target()
    target.deploy(builder.build("1.0.0"), probe)
    proxy = target.status()["proxy"]["pid"]
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from releasegate.targets.local.bundle import LocalBuilder\n"
        "from releasegate.targets.local.target import LocalTarget\n"
        "home, source, url = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]\n"
        "release = LocalBuilder(home, 'webapp', source).build('2.0.0')\n"
        "LocalTarget(home, 'webapp', 'staging', url).deploy(release, lambda url: True)\n"
    )
    deployer = subprocess.run(
        [str(alias), "-c", script, str(home), str(source), target.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert deployer.returncode == 0, deployer.stderr
    assert get_version(target.url) == "2.0.0"
    assert target.status()["proxy"]["pid"] == proxy
