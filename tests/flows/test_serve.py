"""The Prefect UI's doors: one-click rollback (a quick run of the served `rollback`
deployment) and a push event starting `deploy`, with `releasegate serve` running them."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.events import emit_event
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.states import AwaitingRetry

from releasegate import processes
from releasegate.flows.deploy import deploy
from releasegate.wiring import open_store
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
            lambda: served("rollback/webapp-production") and served("deploy/webapp"),
            timeout=60,
            interval=0.5,
            what="deployments registered by releasegate serve",
        )
        # One click: only the reason is asked; the target defaults to the previous good version.
        run = run_deployment(
            "rollback/webapp-production", parameters={"reason": "clicked in the UI"}, timeout=120
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
        bad_parameters_change_nothing(setup)
        retrying_an_older_run_does_not_go_back(setup)
    finally:
        processes.stop(server.pid)
    assert serving(prod) == "v4"
    # The push event's facts reached the record: who pushed what, from which commit.
    pushed = next(r for r in setup.records("deploy") if r.version == "v3")
    assert (pushed.version, pushed.actor, pushed.commit, pushed.status) == (
        "v3",
        "erin",
        "c3",
        "succeeded",
    )
    assert pushed.actor_proof == "claimed"  # an event proves nothing about who pushed
    rolled = setup.records("rollback")[0]
    assert rolled.reason == "clicked in the UI" and rolled.actor == "oncall"
    assert rolled.actor_proof == "claimed"  # nobody proved who clicked


def bad_parameters_change_nothing(setup) -> None:  # type: ignore[no-untyped-def]
    """No deployment takes a configuration; a bad parameter is refused by the server when it
    can tell (the schema), and by the flow before anything changes when it cannot."""
    with get_client(sync_client=True) as client:
        for name in ("deploy/webapp", "rollback/webapp-production"):
            schema = client.read_deployment_by_name(name).parameter_openapi_schema
            assert "config" not in schema["properties"], name
            # Every parameter explains itself in the form.
            assert all(p.get("description") for p in schema["properties"].values()), name
        deploy_schema = client.read_deployment_by_name("deploy/webapp")
    version = deploy_schema.parameter_openapi_schema["properties"]["version"]
    assert version["pattern"] == "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
    before = list(open_store(setup.load()).newest("_triggers"))
    for parameters, refused_by in (
        ({"version": "v9 with space"}, "server"),
        ({"version": ""}, "server"),
        ({"version": "v" * 10240}, "server"),
        ({"version": "v9", "actor": "dave smith"}, "server"),
        # Python's `$` lets a final newline through the server's pattern; the flow refuses it.
        ({"version": "v9\n"}, "flow"),
        ({"version": "v9", "config": "/tmp/no-approvals.toml"}, "flow"),
    ):
        try:
            run = run_deployment("deploy/webapp", parameters=parameters, timeout=120)
        except PrefectHTTPStatusError as exc:
            assert refused_by == "server" and exc.response.status_code == 409, parameters
            continue
        assert refused_by == "flow", parameters
        assert run.state is not None and (run.state.is_failed() or run.state.is_crashed())
    # A rollback deployment's environment is frozen: the server refuses any other.
    with pytest.raises(PrefectHTTPStatusError, match="409"):
        run_deployment(
            "rollback/webapp-production",
            parameters={"reason": "elsewhere", "environment": "staging"},
            timeout=0,
        )
    assert list(open_store(setup.load()).newest("_triggers")) == before  # no run even began
    assert serving(setup.urls["production"]) == "v3"


def retrying_an_older_run_does_not_go_back(setup) -> None:  # type: ignore[no-untyped-def]
    """Prefect's Retry reruns a finished run under its own id: it keeps its place in the
    trigger order, so an older run retried after a newer one went live is outdated."""
    pushed = setup.records("deploy")[0]
    assert pushed.version == "v3" and pushed.status == "succeeded"
    newer = run_deployment(
        "deploy/webapp", parameters={"version": "v4", "actor": "erin"}, timeout=120
    )
    assert newer.state is not None and newer.state.is_completed()
    assert serving(setup.urls["production"]) == "v4"
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(pushed.flow_run_id), AwaitingRetry(), force=True)

    def retried() -> bool:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(pushed.flow_run_id))
        return run.run_count > 1 and run.state is not None and run.state.is_final()

    processes.wait_until(retried, timeout=120, interval=0.5, what="the retried v3 run")
    gate = setup.records("gate")[0]
    assert gate.flow_run_id == pushed.flow_run_id and gate.status == "blocked"
    assert "blocked by outdated gate: v3 (trigger #" in (gate.reason or "")
    assert gate.trigger_seq == pushed.trigger_seq  # the order of its first attempt
    triggers = [
        r for r in setup.records("trigger", "_triggers") if r.flow_run_id == pushed.flow_run_id
    ]
    assert len(triggers) == 1  # the retry recorded no new trigger
    assert serving(setup.urls["production"]) == "v4"
