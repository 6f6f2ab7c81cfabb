"""No outdated deployments, on a real Prefect server with real processes: a run never puts a
version over one triggered after it (live, or being deployed); an older run waiting for
approval ends as soon as a newer one goes live, without any reviewer acting.

The older run is the real `releasegate deploy` in a subprocess (its exit code and one line
matter); the newer one runs in this process, with a configuration of its own for the same
environments and audit trail.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

import pytest
from prefect.flow_runs import resume_flow_run

from releasegate import review
from releasegate.flows.deploy import deploy
from releasegate.resume_form import describe
from releasegate.tasks.overtaken import WAKE_UP
from tests.flows.conftest import serving
from tests.support import console

ONE_LEAD = {"required": 1, "from": "release-managers", "timeout": "10m"}


@pytest.mark.parametrize("outdated", ["block", "allow"])
def test_an_older_run_approved_after_a_newer_one_went_live(make_setup, outdated: str) -> None:
    older = make_setup(
        production={"approvals": ONE_LEAD, "wait_timer": "15s", "outdated": outdated}
    )
    # The newer run's configuration: pinned for the flow this test runs in its own process.
    make_setup(production={"outdated": outdated}, name="newer.toml", urls=older.urls)
    run = console.start("deploy", "v1", "--as", "dave", "--config", str(older.path))
    asked = review.next_request("v1", "production", set(), timeout=60)
    assert asked is not None
    _, verdict = review.decide(asked.flow_run_id, "alice")
    assert verdict.counts  # approved: the older run now sits in its 15 s wait timer

    deploy(version="v2", actor="erin")  # triggered later, live first
    assert serving(older.urls["production"]) == "v2"
    assert run.poll() is None, "the older run's wait timer ended before the newer run was live"

    code, _, err = console.finish(run)
    if outdated == "block":
        assert code == 3, err
        line = console.one_line(err)
        assert line.startswith("blocked: production: blocked by outdated gate: v1 (trigger #")
        assert "is older than v2 (deploy by erin" in line and "explicit rollback" in line
        gate = older.records("gate")[0]
        assert gate.details["stage"] == "before rollout" and gate.status == "blocked"
        assert serving(older.urls["production"]) == "v2"
        assert [r.version for r in older.records("deploy") if r.status == "succeeded"] == ["v2"]
    else:
        assert code == 0, err
        assert serving(older.urls["production"]) == "v1"


def test_a_run_waiting_for_approval_ends_blocked_when_overtaken(make_setup) -> None:
    setup = make_setup(production={"approvals": ONE_LEAD})
    older = console.start("deploy", "v1", "--as", "dave", "--config", str(setup.path))
    first = review.next_request("v1", "production", set(), timeout=60)
    assert first is not None and first.newer == []

    done: list[Any] = []
    newer = threading.Thread(
        target=lambda: done.append(deploy(version="v2", actor="erin")), daemon=True
    )
    newer.start()
    asked = review.next_request("v2", "production", set(), timeout=60)
    assert asked is not None and asked.serving == "" and asked.newer == []

    # A refused decision makes the older run ask again: its new request shows the newer run.
    _, refused = review.decide(first.flow_run_id, "mallory")
    assert not refused.counts and refused.code == "not-a-member"
    again = review.next_request("v1", "production", {first.pause_key}, timeout=60)
    assert again is not None and len(again.newer) == 1
    assert again.newer[0].startswith("deploy v2 by erin (claimed), trigger #")
    assert "Newer runs in flight:** deploy v2 by erin" in describe(again)

    # The newer run is approved and goes live; nobody touches the older one again.
    review.decide(asked.flow_run_id, "alice")
    newer.join(timeout=120)
    assert done and serving(setup.urls["production"]) == "v2"

    code, _, err = console.finish(older, timeout=60)
    assert code == 3, err
    line = console.one_line(err)
    assert "blocked by outdated gate: v1" in line and "is older than v2" in line
    gate = setup.records("gate")[0]
    assert gate.details["stage"] == "waiting for approval" and gate.status == "blocked"
    assert gate.flow_run_id == first.flow_run_id
    decisions = [r for r in setup.records("approval") if r.flow_run_id == first.flow_run_id]
    assert [d.status for d in decisions] == ["refused"]  # no reviewer ended it
    assert serving(setup.urls["production"]) == "v2"


def test_an_empty_answer_is_no_decision_only_a_recheck(make_setup) -> None:
    """What the watcher sends, anyone with the API (or the form, without a name) can send:
    the run only checks its order again and asks again."""
    setup = make_setup(production={"approvals": ONE_LEAD})
    done: list[Any] = []
    run = threading.Thread(
        target=lambda: done.append(deploy(version="v1", actor="dave")), daemon=True
    )
    run.start()
    first = review.next_request("v1", "production", set(), timeout=60)
    assert first is not None
    resume_flow_run(UUID(first.flow_run_id), run_input=WAKE_UP)
    again = review.next_request("v1", "production", {first.pause_key}, timeout=60)
    assert again is not None and again.flow_run_id == first.flow_run_id
    _, verdict = review.decide(again.flow_run_id, "alice")
    run.join(timeout=120)
    assert verdict.counts and done and serving(setup.urls["production"]) == "v1"
    stages = [(g.details["stage"], g.status) for g in setup.records("gate")]
    assert ("waiting for approval", "passed") in stages
    assert [d.status for d in setup.records("approval")] == ["accepted"]
