"""`down` stops what releasegate started, and nothing else."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

from releasegate import processes
from releasegate.targets.local.bundle import LocalBuilder
from releasegate.targets.local.target import LocalTarget, down

from .conftest import MakeTarget, Probe


def pids(target: LocalTarget) -> list[int]:
    status = target.status()
    return [status["proxy"]["pid"], *(i["pid"] for i in status["instances"])]


def test_down_stops_every_environment(
    home: Path, builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    staging, production = make_target("staging"), make_target("production", replicas=1)
    v1, v2 = builder.build("1.0.0"), builder.build("2.0.0")
    staging.deploy(v1, probe)
    staging.deploy(v2, probe)
    production.deploy(v1, probe)
    started = pids(staging) + pids(production)
    assert len(started) == 7  # 2 proxies, 2 live + 2 warm in staging, 1 live in production
    assert all(processes.alive(pid) for pid in started)

    stopped = down(home)

    assert len(stopped) == len(started)
    assert not any(processes.alive(pid) for pid in started)
    assert staging.current() is None and production.current() is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(staging.url, trust_env=False)
    assert down(home) == [], "nothing left to stop"


def test_down_never_kills_a_reused_pid(
    home: Path, builder: LocalBuilder, make_target: MakeTarget, probe: Probe, tmp_path: Path
) -> None:
    target = make_target(replicas=1)
    target.deploy(builder.build("1.0.0"), probe)
    state_file = home / "envs" / "staging" / "state.json"
    state = json.loads(state_file.read_text())
    instance = state["instances"][0]
    ours = instance["pid"]
    # The instance's PID now belongs to another program (as after a reboot or a PID wrap).
    foreign = processes.spawn(
        [sys.executable, "-c", "import time; time.sleep(120)"], log=tmp_path / "foreign.log"
    )
    try:
        instance["pid"] = foreign.pid
        state_file.write_text(json.dumps(state))

        stopped = down(home)

        assert processes.alive(foreign.pid)
        assert [line for line in stopped if str(foreign.pid) in line] == []
        assert len(stopped) == 1 and "proxy" in stopped[0]
    finally:
        processes.stop(foreign.pid)
        processes.stop(ours)  # no longer on record: the test stops it itself
