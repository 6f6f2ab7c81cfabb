"""Prefect's Retry of a deploy that did not go live: the pipeline runs again under the same
flow-run id, every gate and approval included, and keeps the run's place in the order.
(A Retry of a deploy that went live, and of a rollback: tests/flows/test_serve.py.)"""

from __future__ import annotations

from pathlib import Path

from prefect.deployments import run_deployment

from releasegate.deployment_names import deploy_name
from tests.flows.conftest import (
    rerun_finished,
    retry_like_the_ui,
    served_by_releasegate,
    serving,
)
from tests.support.people import Reviewers, Step, approve_all

UNSIGNED = {"required": 2, "from": "release-managers", "timeout": "2m"}


def test_retrying_a_rejected_deploy_asks_for_every_gate_and_approval_again(
    make_setup, tmp_path: Path
) -> None:
    setup = make_setup(staging={}, production={"approvals": UNSIGNED})
    log = tmp_path / "serve.log"
    with served_by_releasegate(setup, log, RELEASEGATE_ACTOR="oncall"):
        no = Reviewers("v1", [Step("alice"), Step("bob", reject=True)]).start()
        run = run_deployment(
            deploy_name(setup.app), parameters={"version": "v1", "actor": "dave"}, timeout=180
        )
        no.join()
        assert run.state is not None and run.state.is_failed(), log.read_text()
        assert setup.records("deploy") == []
        run_id = str(run.id)

        yes = approve_all("v1", "alice", "bob")
        retry_like_the_ui(run_id)
        assert rerun_finished(run_id).state.is_completed(), log.read_text()
        yes.join()
    assert serving(setup.urls["production"]) == "v1"
    deployed = setup.records("deploy")[0]
    assert (deployed.flow_run_id, deployed.status) == (run_id, "succeeded")
    # Prefect's run count when the rerun began (a pause and resume also count): above 1.
    again = deployed.attempt
    assert again is not None and again > 1
    mine = [r for r in setup.records("approval") if r.flow_run_id == run_id]
    assert [(r.attempt, r.approvers[0], r.status) for r in reversed(mine)] == [
        (1, "alice", "accepted"),
        (1, "bob", "rejected"),
        (again, "alice", "accepted"),  # the first attempt's approval does not carry over
        (again, "bob", "accepted"),
    ]
    gates = [(r.attempt, r.details["stage"]) for r in setup.records("gate") if r.status == "passed"]
    assert (again, "before approvals") in gates and (again, "before rollout") in gates
    assert deployed.approvers == ["alice", "bob"]
    # Staging ran again too: the whole pipeline, not only where it stopped.
    staged = [r.attempt for r in setup.records("deploy", "staging") if r.status == "succeeded"]
    assert staged == [again, 1]
    # The rerun is dave's request again (his claim), in its first attempt's place.
    triggers = [r for r in setup.records("trigger", "_triggers") if r.flow_run_id == run_id]
    assert len(triggers) == 1 and deployed.trigger_seq == triggers[0].seq
    assert (deployed.actor, deployed.actor_proof) == ("dave", "claimed")
    assert setup.records("rollback") == []
