"""The Prefect UI's doors: one-click rollback (a quick run of the served `rollback`
deployment) and a push event starting `deploy`, with `releasegate serve` running them."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.events import emit_event
from prefect.exceptions import PrefectHTTPStatusError

from releasegate import processes
from releasegate.deployment_names import deploy_name, rollback_name
from releasegate.flows.deploy import deploy
from releasegate.wiring import open_store
from tests.flows.conftest import (
    rerun_finished,
    retry_like_the_ui,
    served_by_releasegate,
    serving,
)


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
    log = tmp_path / "serve.log"
    with served_by_releasegate(setup, log, RELEASEGATE_ACTOR="oncall"):
        # One click: only the reason is asked; the target defaults to the previous good version.
        run = run_deployment(
            rollback_name(setup.app, "production"),
            parameters={"reason": "clicked in the UI"},
            timeout=120,
        )
        assert run.state is not None and run.state.is_completed(), log.read_text()
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
        retrying_past_runs_rolls_back(setup, str(run.id))
    # The push event's facts reached the record: who pushed what, from which commit.
    pushed = next(r for r in setup.records("deploy") if r.version == "v3")
    assert (pushed.version, pushed.actor, pushed.commit, pushed.status) == (
        "v3",
        "erin",
        "c3",
        "succeeded",
    )
    assert pushed.actor_proof == "claimed"  # an event proves nothing about who pushed
    rolled = [r for r in setup.records("rollback") if r.flow_run_id == str(run.id)][-1]
    assert rolled.reason == "clicked in the UI" and rolled.actor == "oncall"
    assert rolled.actor_proof == "claimed"  # nobody proved who clicked


def bad_parameters_change_nothing(setup) -> None:  # type: ignore[no-untyped-def]
    """No deployment takes a configuration; a bad parameter is refused by the server when it
    can tell (the schema), and by the flow before anything changes when it cannot."""
    with get_client(sync_client=True) as client:
        for name in (deploy_name(setup.app), rollback_name(setup.app, "production")):
            schema = client.read_deployment_by_name(name).parameter_openapi_schema
            assert "config" not in schema["properties"], name
            # Every parameter explains itself in the form.
            assert all(p.get("description") for p in schema["properties"].values()), name
        deploy_schema = client.read_deployment_by_name(deploy_name(setup.app))
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
            run = run_deployment(deploy_name(setup.app), parameters=parameters, timeout=120)
        except PrefectHTTPStatusError as exc:
            assert refused_by == "server" and exc.response.status_code == 409, parameters
            continue
        assert refused_by == "flow", parameters
        assert run.state is not None and (run.state.is_failed() or run.state.is_crashed())
    # A rollback deployment's environment is frozen: the server refuses any other.
    with pytest.raises(PrefectHTTPStatusError, match="409"):
        run_deployment(
            rollback_name(setup.app, "production"),
            parameters={"reason": "elsewhere", "environment": "staging"},
            timeout=0,
        )
    assert list(open_store(setup.load()).newest("_triggers")) == before  # no run even began
    assert serving(setup.urls["production"]) == "v3"


def retrying_past_runs_rolls_back(setup, quick_run_id: str) -> None:  # type: ignore[no-untyped-def]
    """The Prefect UI's Retry on a finished run reruns it under its own id. A deploy that
    went live puts its release back (its digest, no rebuild) as a rollback with a trigger of
    its own; a rollback restores the release its first attempt chose."""
    prod = setup.urls["production"]
    pushed = setup.records("deploy")[0]
    assert pushed.version == "v3" and pushed.status == "succeeded"
    newer = run_deployment(
        deploy_name(setup.app), parameters={"version": "v4", "actor": "erin"}, timeout=120
    )
    assert newer.state is not None and newer.state.is_completed()
    assert serving(prod) == "v4"
    builds = len(list((setup.home / "releases").iterdir()))

    retry_like_the_ui(pushed.flow_run_id)
    assert rerun_finished(pushed.flow_run_id).state.is_completed()
    assert serving(prod) == "v3"
    back = setup.records("rollback")[0]
    assert (back.flow_run_id, back.status, back.version, back.artifact) == (
        pushed.flow_run_id,
        "succeeded",
        "v3",
        pushed.artifact,
    )
    assert pushed.attempt == 1 and (back.attempt or 0) > 1  # told apart from the first attempt
    assert back.previous_version == "v4" and f"flow run {pushed.flow_run_id}" in (back.reason or "")
    # Who pressed Retry is unknown: the serving process's actor, as a claim, saying so.
    assert (back.actor, back.actor_proof) == ("oncall", "claimed")
    triggers = [
        r for r in setup.records("trigger", "_triggers") if r.flow_run_id == pushed.flow_run_id
    ]
    assert [(t.attempt, t.details["request"]) for t in triggers] == [
        (back.attempt, "rollback"),
        (1, "deploy"),
    ]
    assert "Prefect records no identity" in triggers[0].details["retried"]
    # A rollback takes its own place in the trigger order, after v4's.
    v4 = next(r for r in setup.records("deploy") if r.version == "v4")
    assert back.trigger_seq == triggers[0].seq and back.trigger_seq > (v4.trigger_seq or 0)
    assert len(list((setup.home / "releases").iterdir())) == builds  # nothing was rebuilt
    # The rerun is a rollback: what it moved away from (v4) was quarantined, before the change.
    assert left_behind(setup, pushed.flow_run_id) == [("v4", back.attempt)]
    held = next(r for r in setup.records("quarantine", "_quarantine") if r.version == "v4")
    started = next(
        r
        for r in setup.records("rollback")
        if r.flow_run_id == pushed.flow_run_id and r.status == "started"
    )
    assert held.started_at <= started.started_at
    # Looked up by its flow-run id, the run still means v4: quarantined now, so the terminal
    # (handing the rollback to this serve) must say --release-quarantine, and it is forwarded.
    code, out = setup.cli("rollback", "production", "-r", "v4 again", "--to", newer.id.hex)
    assert code == 3 and "--release-quarantine" in out and serving(prod) == "v3", out
    released = ("--to", newer.id.hex, "--release-quarantine")
    code, out = setup.cli("rollback", "production", "-r", "v4 again", *released)
    assert code == 0 and "run by releasegate serve" in out and serving(prod) == "v4", out
    released = ("--to", pushed.flow_run_id, "--release-quarantine")
    assert setup.cli("rollback", "production", "-r", "by run", *released)[0] == 0
    assert serving(prod) == "v3"

    # The first quick run restored v1; retried, it restores v1 again (the default target
    # today would be another version), quarantining v3 as any rollback would.
    retry_like_the_ui(quick_run_id)
    assert rerun_finished(quick_run_id).state.is_completed()
    assert serving(prod) == "v1"
    again = setup.records("rollback")[0]
    assert (again.flow_run_id, again.version) == (quick_run_id, "v1")
    assert (again.attempt or 0) > 1 and "(rerun: attempt" in (again.reason or "")
    assert (again.actor, again.actor_proof) == ("oncall", "claimed")
    assert left_behind(setup, quick_run_id) == [("v3", again.attempt), ("v2", 1)]

    # What the first attempt chose is quarantined now (v1, rolled back from): a rerun does
    # not slip it back in (the run did not say --release-quarantine).
    released = ("--to", pushed.flow_run_id, "--release-quarantine")
    assert setup.cli("rollback", "production", "-r", "v3 back", *released)[0] == 0
    retry_like_the_ui(quick_run_id)
    assert rerun_finished(quick_run_id, attempt=3).state.is_failed()
    assert serving(prod) == "v3" and setup.records("rollback")[0].flow_run_id != quick_run_id


def left_behind(setup, flow_run_id: str) -> list[tuple[str | None, int | None]]:  # type: ignore[no-untyped-def]
    """The versions a flow run quarantined (and on which attempt), newest first."""
    return [
        (q.version, q.attempt)
        for q in setup.records("quarantine", "_quarantine")
        if q.flow_run_id == flow_run_id and q.status == "quarantined"
    ]
