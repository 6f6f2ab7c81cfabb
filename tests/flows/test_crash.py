"""`kill -9` of a real `releasegate deploy` / `rollback` process at each step of a production
change, under continuous load: the URL serves the old or the new version whole, the trail
still verifies, and the next change closes the wreck and does the right thing."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client

from releasegate import processes
from releasegate.audit.record import AuditRecord
from releasegate.flows.deploy import deploy
from releasegate.flows.reconcile import reconcile
from releasegate.flows.rollback import rollback
from releasegate.trigger import TRIGGERS
from tests.flows.conftest import Setup, serving
from tests.support.traffic import Traffic


def killed(setup: Setup, log: Path, point: str, *command: str) -> None:
    """Run `releasegate COMMAND` until it kills itself with SIGKILL at `point`."""
    cli = str(Path(sys.executable).with_name("releasegate"))
    env = {**os.environ, "RELEASEGATE_FAILPOINT": point, "RELEASEGATE_ACTOR": "dave"}
    proc = processes.spawn([cli, *command, "--config", str(setup.path)], log=log, env=env)
    assert proc.wait(timeout=120) == -signal.SIGKILL, log.read_text()


def state_of(run_id: str | None) -> str:
    assert run_id is not None
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(run_id))
    assert run.state is not None
    return run.state.type.value


def status_of(setup: Setup) -> dict:  # type: ignore[type-arg]
    code, out = setup.cli("status", "--json")
    assert code == 0, out
    return json.loads(out)["production"]


def the_interrupted(setup: Setup, kind: str) -> tuple[AuditRecord, AuditRecord]:
    """The started record a killed run left, and the interrupted record that closed it."""
    records = setup.records(kind)
    closed = [r for r in records if r.status == "interrupted"]
    assert len(closed) == 1
    same = [r for r in records if r.operation_id == closed[0].operation_id]
    started = next(r for r in same if r.status == "started")
    return started, closed[0]


@pytest.mark.parametrize(
    ("point", "live", "then"),
    [
        ("before-switch", "v2", "rollback"),  # v3 runs beside v2, unrouted
        ("after-switch", "v3", "rollback"),  # v3 serves, unverified, unrecorded
        ("during-verify", "v3", "deploy"),  # v3 checked but the check not recorded
    ],
)
def test_kill_9_during_a_production_deploy(
    make_setup, tmp_path: Path, caplog: pytest.LogCaptureFixture, point: str, live: str, then: str
) -> None:
    caplog.set_level(logging.INFO, logger="prefect.flow_runs")
    setup = make_setup()
    prod = setup.urls["production"]
    for version in ("v1", "v2"):
        setup.call(deploy, version=version, actor="dave")
    with Traffic(prod, max_seconds=120).running() as load:
        killed(setup, tmp_path / "deploy.log", point, "deploy", "v3")
        died = time.monotonic()
        load.more(20)
        # Whole: after the kill every request is served by one version, the right one.
        assert {o.version for o in load.started_after(died)} == {live}
        status = status_of(setup)
        assert status["version"] == live and status["recorded_version"] == "v2"
        assert status["agrees"] is (live == "v2")
        assert status["unfinished"].startswith("deploy v3 by dave started ")
        code, out = setup.cli("audit", "verify")
        assert code == 0, out

        if then == "rollback":
            # The previous good version of what is live: not two releases back.
            restored = setup.call(rollback, environment="production", reason="after the crash")
            expected = {"v2": "v1", "v3": "v2"}[live]
            assert restored == expected
        else:
            setup.call(deploy, version="v4", actor="dave")
            expected = "v4"
        load.more(20)
    assert load.failures == [] and serving(prod) == expected

    started, closed = the_interrupted(setup, "deploy")
    assert closed.version == "v3" and closed.details["live"]["version"] == live
    assert closed.details["took_effect"] is (live == "v3")
    assert closed.actor == "dave" and closed.flow_run_id == started.flow_run_id
    assert state_of(started.flow_run_id) == "CRASHED"
    # The next change started from what the target served, not from what the trail said.
    follow_up = setup.records(then)[0]
    assert follow_up.status == "succeeded" and follow_up.previous_version == live
    assert any("the process holding the lock is gone" in r.getMessage() for r in caplog.records)
    code, out = setup.cli("audit", "verify")
    assert code == 0, out
    after = status_of(setup)
    assert after["agrees"] and after["unfinished"] is None
    if then == "deploy":
        # v3 never verified: the default rollback from v4 goes to v2.
        assert setup.call(rollback, environment="production", reason="v4") == "v2"


def test_kill_9_during_a_rollback_then_finish_it(make_setup, tmp_path: Path) -> None:
    """A rollback to v1 killed after its switch: v1 serves, the trail still says v2. Status
    says so; running the rollback to v1 again records the crash and then v1, verified."""
    setup = make_setup()
    prod = setup.urls["production"]
    for version in ("v1", "v2"):
        setup.call(deploy, version=version, actor="dave")
    with Traffic(prod, max_seconds=120).running() as load:
        killed(setup, tmp_path / "rollback.log", "after-switch", "rollback", "production",
               "--reason", "v2 is slow")  # fmt: skip
        died = time.monotonic()
        load.more(20)
        assert {o.version for o in load.started_after(died)} == {"v1"}
        status = status_of(setup)
        assert (status["version"], status["recorded_version"], status["agrees"]) == (
            "v1",
            "v2",
            False,
        )
        code, out = setup.cli("rollback", "production", "--to", "v1", "--reason", "finish it")
        assert code == 0, out
        load.more(20)
    assert load.failures == [] and serving(prod) == "v1"
    started, closed = the_interrupted(setup, "rollback")
    assert closed.details["took_effect"] is True and closed.reason
    assert "took effect, unverified" in closed.reason
    assert state_of(started.flow_run_id) == "CRASHED"
    assert setup.records("rollback")[0].status == "succeeded"
    assert status_of(setup)["agrees"] is True


def test_kill_9_then_reconcile_closes_the_wreck_and_records_the_drift(
    make_setup, tmp_path: Path
) -> None:
    """The scheduled drift check is the first to hold the environment after a killed deploy:
    it closes the change as interrupted (its own trigger recorded first, as for every
    recorded run), marks the dead run Crashed, and records the drift the wreck left."""
    setup = make_setup()
    setup.call(deploy, version="v1", actor="dave")
    killed(setup, tmp_path / "deploy.log", "after-switch", "deploy", "v2")
    found = setup.call(reconcile, actor="erin")
    assert found["production"].startswith("drift: the target serves v2 (sha256:")
    started, closed = the_interrupted(setup, "deploy")
    assert closed.details["closed_by"]["actor"] == "erin"
    assert closed.details["took_effect"] is True
    assert state_of(started.flow_run_id) == "CRASHED"
    trigger = setup.records("trigger", TRIGGERS)[0]
    assert trigger.details["request"] == "reconcile" and trigger.actor == "erin"
    assert trigger.seq < closed.seq
    [detected] = setup.records("drift")
    assert detected.status == "detected" and detected.version == "v2"
    code, out = setup.cli("audit", "verify")
    assert code == 0, out
