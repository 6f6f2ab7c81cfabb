"""Gates and the approval gate on a real Prefect server: block, refuse, reject, expire."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine

from releasegate import processes, review
from releasegate.demo import in_background
from releasegate.errors import Blocked
from releasegate.flows.deploy import deploy
from releasegate.tasks.lock import hold
from tests.flows.conftest import assert_given_again, serving
from tests.support.jsonhttp import JsonServer
from tests.support.people import Responder, Reviewers, Step, approve_all

UNSIGNED = {"required": 2, "from": "release-managers", "timeout": "2m"}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_active_freeze_blocks_with_rule_and_until_and_exit_code_3(make_setup) -> None:
    now = datetime.now(UTC)
    until = now + timedelta(hours=2)
    setup = make_setup(
        production={
            "freeze": [
                {
                    "from": iso(now - timedelta(hours=1)),
                    "until": iso(until),
                    "reason": "release freeze",
                }
            ]
        },
    )
    code, out = setup.cli("deploy", "v1", "--actor", "dave")
    assert code == 3
    assert "freeze" in out and "release freeze" in out and f"{until:%Y-%m-%d %H:%M}" in out
    assert "[rule: " in out  # printed as text, not eaten as console markup
    with pytest.raises(httpx.ConnectError):
        httpx.get(setup.urls["production"], timeout=2)
    gate = setup.records("gate")[0]
    assert gate.status == "blocked" and gate.details["stage"] == "at run start"


def test_outside_every_allow_window_blocks_until_the_next_one_opens(make_setup) -> None:
    now = datetime.now(UTC)
    opens = (now + timedelta(days=2)).replace(microsecond=0)
    setup = make_setup(
        production={
            "allow": [
                {"from": iso(opens), "until": iso(opens + timedelta(hours=8)), "reason": "window"}
            ]
        },
    )
    code, out = setup.cli("deploy", "v1", "--actor", "dave")
    assert code == 3
    assert "outside every allow window" in out and f"until {opens:%Y-%m-%d %H:%M}" in out
    gate = setup.records("gate")[0]
    assert gate.status == "blocked" and gate.details["stage"] == "at run start"
    assert setup.records("deploy") == []


def test_branch_restriction_blocks(make_setup) -> None:
    setup = make_setup(app={"name": "branches"}, production={"branches": ["main", "release/*"]})
    with pytest.raises(Blocked, match="branch 'feature/x' may not deploy here"):
        setup.call(deploy, version="b1", branch="feature/x", actor="dave")
    assert setup.records("deploy") == []
    setup.call(deploy, version="b1", branch="release/1.0", actor="dave")
    assert serving(setup.urls["production"]) == "b1"
    deployed = setup.records("deploy")[0]
    assert (deployed.status, deployed.branch) == ("succeeded", "release/1.0")


def test_a_freeze_that_begins_while_approvals_are_pending_stops_the_rollout(make_setup) -> None:
    """The freeze begins two hours from now, at a time the test sets; the clock (this
    process's, where the run runs) jumps past it only once the run waits for approval, so
    the checks at run start and before approvals pass whatever the load, and the check
    right before the rollout sees the freeze. Nothing is rolled out; the message says until
    when."""
    begins = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    ends = begins + timedelta(hours=3)
    setup = make_setup(
        production={
            "approvals": {"required": 1, "from": "release-managers", "timeout": "24h"},
            "freeze": [{"from": iso(begins), "until": iso(ends), "reason": "launch event"}],
        }
    )
    run = in_background(setup.call, flow=deploy, version="v1", actor="dave")
    asked = review.next_request("v1", "production", set(), timeout=60, app=setup.app)
    assert asked is not None  # the run waits for approval, the freeze still ahead
    with time_machine.travel(begins + timedelta(minutes=1), tick=True):
        _, verdict = review.decide(asked.flow_run_id, "alice")
        with pytest.raises(Blocked, match="launch event") as ended:
            run.result(timeout=120)
    assert verdict.counts and f"until {ends:%Y-%m-%d %H:%M}" in str(ended.value)
    assert stages(setup) == [
        ("before rollout", "blocked"),
        ("before approvals", "passed"),
        ("at run start", "passed"),
    ]
    assert setup.records("deploy") == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(setup.urls["production"], timeout=2)


def test_gates_are_checked_again_right_before_the_rollout(make_setup, status_page) -> None:
    """The world changes while the run waits for approval: the test opens a major incident
    once the run is paused (its first gate checks recorded as passed), then approves; the
    check right before the rollout sees it. No clock is raced."""
    page, incidents = status_page
    setup = make_setup(
        app={"name": "gates-again"},
        production={
            "approvals": {**UNSIGNED, "required": 1},
            "incidents": {"url": f"{page.url}/api/v2/incidents/unresolved.json"},
        },
    )

    def incident_then_alice(asked: Any) -> tuple[str, None]:
        assert [g.status for g in setup.records("gate")] == ["passed", "passed"]
        incidents.append({"name": "payments down", "impact": "critical", "status": "identified"})
        return "", None

    reviewers = Reviewers("gx", [Step("alice", signature=incident_then_alice)]).start()
    with pytest.raises(Blocked, match="payments down"):
        setup.call(deploy, version="gx", actor="dave")
    reviewers.join()
    assert stages(setup) == [
        ("before rollout", "blocked"),
        ("before approvals", "passed"),
        ("at run start", "passed"),  # the calendar alone, when the run starts
    ]
    assert setup.records("deploy") == []


def stages(setup: Any) -> list[tuple[str, str]]:
    """Where each gate check was made and how it ended, newest first."""
    return [(g.details["stage"], g.status) for g in setup.records("gate")]


def test_refused_decisions_keep_the_run_waiting_until_two_distinct_leads_approve(
    make_setup,
) -> None:
    setup = make_setup(production={"approvals": UNSIGNED})
    reviewers = Reviewers(
        "v1",
        [
            Step("carol"),  # carol triggered the run: self-review
            Step("mallory"),  # not a member
            Step("alice"),
            Step("alice"),  # same person twice
            Step("bob"),
        ],
    ).start()
    deploy(version="v1", actor="carol")
    reviewers.join()
    decisions = [
        (r.approvers[0], r.status, r.details.get("refusal")) for r in setup.records("approval")
    ]
    assert decisions[::-1] == [
        ("carol", "refused", "self-review"),
        ("mallory", "refused", "not-a-member"),
        ("alice", "accepted", None),
        ("alice", "refused", "duplicate"),
        ("bob", "accepted", None),
    ]
    deployed = setup.records("deploy")[0]
    assert deployed.status == "succeeded" and deployed.approvers == ["alice", "bob"]
    assert serving(setup.urls["production"]) == "v1"


def test_rejection_by_an_eligible_reviewer_stops_the_run(make_setup) -> None:
    setup = make_setup(production={"approvals": UNSIGNED})
    reviewers = Reviewers(
        "v1", [Step("alice"), Step("bob", reject=True, comment="not today")]
    ).start()
    with pytest.raises(Blocked, match="rejected by bob"):
        deploy(version="v1", actor="dave")
    reviewers.join()
    rejected = setup.records("approval")[0]
    assert rejected.status == "rejected" and rejected.reason == "not today"
    assert setup.records("deploy") == []


def test_approval_timeout_is_recorded_as_expired(make_setup) -> None:
    setup = make_setup(production={"approvals": {**UNSIGNED, "timeout": "3s"}})
    with pytest.raises(Blocked, match="approval expired"):
        deploy(version="v1", actor="dave")
    assert setup.records("approval")[0].status == "expired"
    assert setup.records("deploy") == []


def test_approvals_older_than_max_age_are_void_and_asked_again(make_setup) -> None:
    setup = make_setup(
        app={"name": "unsigned-max-age"},
        production={"approvals": {**UNSIGNED, "max_age": "5s"}, "wait_timer": "6s"},
    )
    responder = Responder("m2").start()
    setup.call(deploy, version="m2", actor="dave")
    responder.stop()
    assert_given_again(setup)


def test_approvals_that_age_while_the_run_waits_for_the_lock_are_asked_again(
    make_setup,
) -> None:
    """The lock is taken after the approvals: a run that waited for it past max_age does
    not roll out on stale approvals; it lets the environment go and asks again."""
    setup = make_setup(production={"approvals": {**UNSIGNED, "max_age": "5s"}})
    reviewers = approve_all("v1", "alice", "bob", "carol", "alice")
    outcome: list[str] = []
    with hold(setup.app, "production", "deploy v0", "erin", say=lambda _: None):
        run = threading.Thread(
            target=lambda: outcome.append(setup.call(deploy, version="v1", actor="dave"))
        )
        run.start()

        def aged() -> bool:
            given = [r for r in setup.records("approval") if r.status == "accepted"]
            return len(given) == 2 and all(
                datetime.now(UTC) - r.approvals[0].at > timedelta(seconds=6) for r in given
            )

        processes.wait_until(aged, timeout=120, interval=0.5, what="two approvals, aged")
    run.join(timeout=180)
    reviewers.join()
    assert outcome and not run.is_alive()
    expired = [r.approvers[0] for r in setup.records("approval") if r.status == "expired"]
    assert sorted(expired) == ["alice", "bob"]
    assert sorted(setup.records("deploy")[0].approvers) == ["alice", "carol"]


@pytest.fixture
def status_page() -> Iterator[tuple[JsonServer, list[dict[str, str]]]]:
    """A real HTTP status page serving Statuspage-shaped JSON; the list is its incidents."""
    incidents: list[dict[str, str]] = []
    page = JsonServer(lambda path: (200, {"incidents": incidents}))
    yield page, incidents
    page.close()


@pytest.mark.parametrize(
    ("status", "body", "named"),
    [
        (503, {"error": "maintenance"}, "503"),
        (200, b"<html>not json</html>", "the answer is not JSON"),
        # The default condition (Statuspage's shape) cannot be judged on these answers.
        (200, {"status": "ok"}, "does not have the expected shape"),
        (200, {"incidents": "none"}, "does not have the expected shape"),
    ],
    ids=["5xx", "not-json", "no-incidents", "wrong-shape"],
)
def test_an_incident_source_answering_nonsense_fails_closed_and_says_why(
    make_setup, status: int, body: Any, named: str
) -> None:
    page = JsonServer(lambda path: (status, body))
    try:
        setup = make_setup(
            app={"name": "incidents-nonsense"}, production={"incidents": {"url": page.url}}
        )
        code, out = setup.cli("deploy", "nx", "--actor", "dave")
    finally:
        page.close()
    assert code == 3, out
    assert "failing closed" in out and named in out
    gate = setup.records("gate")[0]
    assert gate.status == "blocked" and named in (gate.reason or "")
    assert setup.records("deploy") == []


def test_an_open_major_incident_blocks_and_an_unreadable_source_fails_closed(
    make_setup, status_page
) -> None:
    page, incidents = status_page
    url = f"{page.url}/api/v2/incidents/unresolved.json"
    setup = make_setup(production={"incidents": {"url": url, "timeout": "2s"}})
    incidents.append({"name": "checkout errors", "impact": "major", "status": "identified"})
    code, out = setup.cli("deploy", "v1", "--actor", "dave")
    assert code == 3 and "incident" in out and "checkout errors" in out

    page.close()
    code, out = setup.cli("deploy", "v1", "--actor", "dave")
    assert code == 3 and "failing closed" in out
    with pytest.raises(httpx.ConnectError):
        httpx.get(setup.urls["production"], timeout=2)


def test_a_minor_incident_does_not_block(make_setup, status_page) -> None:
    page, incidents = status_page
    setup = make_setup(production={"incidents": {"url": page.url}})
    incidents.append({"name": "slow search", "impact": "minor", "status": "monitoring"})
    deploy(version="v1", actor="dave")
    assert serving(setup.urls["production"]) == "v1"
