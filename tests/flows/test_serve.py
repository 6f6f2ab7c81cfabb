"""The Prefect UI's doors: one-click rollback (a quick run of the served `rollback`
deployment) and a push event starting `deploy`, with `releasegate serve` running them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.events import emit_event
from prefect.exceptions import ObjectNotFound

from releasegate import processes
from releasegate.flows.deploy import deploy
from tests.conftest import REPO
from tests.flows.conftest import serving


def served(name: str) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(name)
        except ObjectNotFound:
            return False
    return True


def pushed_and_recorded(setup, version: str) -> bool:
    """The deploy of `version` has finished and its outcome is in the audit trail."""
    deploys = setup.records("deploy")
    return bool(deploys) and deploys[0].version == version and deploys[0].status != "started"


def test_one_click_rollback_and_deploy_on_push_through_served_deployments(
    make_setup, tmp_path: Path
) -> None:
    setup = make_setup()
    prod = setup.urls["production"]
    for version in ("v1", "v2"):
        deploy(version=version, actor="dave")
    server = processes.spawn(
        [str(Path(sys.executable).with_name("releasegate")), "serve", "--config", str(setup.path)],
        log=tmp_path / "serve.log",
        env={**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "1", "RELEASEGATE_ACTOR": "oncall"},
    )
    try:
        processes.wait_until(
            lambda: served("rollback/releasegate") and served("deploy/releasegate"),
            timeout=60,
            interval=0.5,
            what="deployments registered by releasegate serve",
        )
        # One click: only the reason is asked; the target defaults to the previous good version.
        run = run_deployment(
            "rollback/releasegate", parameters={"reason": "clicked in the UI"}, timeout=120
        )
        assert run.state is not None and run.state.is_completed(), (
            tmp_path / "serve.log"
        ).read_text()
        assert serving(prod) == "v1"

        emit_event(
            event="releasegate.push",
            resource={"prefect.resource.id": "releasegate.repo.webapp"},
            payload={"version": "v3", "branch": "main", "commit": "c3", "actor": "erin"},
        )
        processes.wait_until(
            lambda: pushed_and_recorded(setup, "v3"),
            timeout=120,
            interval=0.5,
            what="v3 deployed on push and recorded",
        )
    finally:
        processes.stop(server.pid)
    assert serving(prod) == "v3"
    # The push event's facts reached the record: who pushed what, from which commit.
    pushed = setup.records("deploy")[0]
    assert (pushed.version, pushed.actor, pushed.commit, pushed.status) == (
        "v3",
        "erin",
        "c3",
        "succeeded",
    )
    rolled = setup.records("rollback")[0]
    assert rolled.reason == "clicked in the UI" and rolled.actor == "oncall"


def test_prefect_yaml_registers_both_deployments_for_a_worker() -> None:
    prefect = str(Path(sys.executable).with_name("prefect"))
    env = {**os.environ, "RELEASEGATE_CHECKOUT": str(REPO)}
    for argv in (
        [prefect, "work-pool", "create", "releasegate", "--type", "process", "--overwrite"],
        [prefect, "--no-prompt", "deploy", "--all"],
    ):
        done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    with get_client(sync_client=True) as client:
        rollback = client.read_deployment_by_name("rollback/releasegate")
        deploy_ = client.read_deployment_by_name("deploy/releasegate")
    assert rollback.work_pool_name == "releasegate" and rollback.parameters == {
        "environment": "production"
    }
    assert deploy_.entrypoint == "flows/deploy.py:deploy"
