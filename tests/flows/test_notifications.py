"""Notifications through apprise, received by a real local HTTP endpoint (apprise's
`json://` pointed at 127.0.0.1): approval requested (with the link to the paused run),
deployed, blocked, rolled back, quarantined, failed; a destination that cannot be reached
is a warning and a record, never a failed run; no URL credential is recorded or printed."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from releasegate import processes
from releasegate.errors import DeployFailed
from releasegate.flows.deploy import deploy
from tests.flows.conftest import broken_source, serving
from tests.support.inbox import Inbox
from tests.support.people import approve_all

PASSWORD = "inbox-pass-5be0c3a19d"
DEAD_PASSWORD = "dead-pass-0f9e27c4b1"


BASIC = "Basic " + base64.b64encode(f"hook:{PASSWORD}".encode()).decode()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    # It takes only what carries the URL's credential: every notice that arrives proves
    # apprise sent it (a wrong one is answered 401, a failed delivery).
    running = Inbox(lambda path, headers: headers.get("Authorization") == BASIC)
    yield running
    running.close()


def kinds(inbox: Inbox) -> list[str]:
    return [t.split(": ", 1)[1] for t in inbox.titles()]


def test_every_event_reaches_the_endpoint_and_a_dead_one_never_fails_a_run(
    make_setup, inbox: Inbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        "RELEASEGATE_TEST_NOTIFY", f"json://hook:{PASSWORD}@127.0.0.1:{inbox.port}/rg"
    )
    dead = processes.free_port()  # nothing listens there
    monkeypatch.setenv(
        "RELEASEGATE_TEST_NOTIFY_DEAD", f"json://hook:{DEAD_PASSWORD}@127.0.0.1:{dead}/x"
    )
    setup = make_setup(
        production={
            "approvals": {"required": 1, "from": "release-managers", "timeout": "2m"},
            "notify": [
                {"env": "RELEASEGATE_TEST_NOTIFY"},
                {"env": "RELEASEGATE_TEST_NOTIFY_DEAD", "events": ["deployed"]},
            ],
        }
    )
    reviewers = approve_all("v1", "alice")
    deploy(version="v1", actor="dave")
    asked = reviewers.join()[0]
    assert serving(setup.urls["production"]) == "v1"

    request = inbox.wait_for(lambda m: "approval needed for v1" in m["title"])
    assert request["title"] == (
        f"{setup.app} production: approval needed for v1 (run by dave (claimed))"
    )
    assert f"/flow-run/{asked.flow_run_id})" in request["message"]  # the paused run
    assert asked.digest in request["message"].replace("` `", "")  # what is approved (wrapped)
    inbox.wait_for(lambda m: m["title"].endswith("v1 is live, deploy by dave (claimed)"))

    # The dead destination: a warning and a record, the deploy succeeded all the same.
    failure = setup.records("notification")[0]
    assert failure.status == "failed" and failure.details["notice"] == "deployed"
    assert f"json://***@127.0.0.1:{dead}/x (refused or unreachable)" in (failure.reason or "")

    reviewers = approve_all("v2", "bob")
    deploy(version="v2", actor="dave")
    reviewers.join()
    code, out = setup.cli("rollback", "production", "--reason", "v2 is slow", "--as", "carol")
    assert code == 0, out
    inbox.wait_for(
        lambda m: "v1 is live (was v2), rollback by carol (claimed): v2 is slow" in m["title"]
    )
    quarantined = inbox.wait_for(lambda m: m["title"].endswith("v2 quarantined"))
    assert "releasegate quarantine release production v2" in quarantined["message"]

    code, out = setup.cli("deploy", "v2", "--actor", "dave")
    assert code == 3
    blocked = inbox.wait_for(lambda m: "v2 blocked (before approvals)" in m["title"])
    assert "quarantine" in blocked["message"] and blocked["type"] == "warning"

    broken = make_setup(
        app={"source": str(broken_source(tmp_path, setup))}, name="broken.toml", urls=setup.urls,
        production={"notify": [{"env": "RELEASEGATE_TEST_NOTIFY"}]},
    )  # fmt: skip
    with broken.pinned(), pytest.raises(DeployFailed):
        deploy(version="v3", actor="dave")
    failed = inbox.wait_for(lambda m: m["title"].endswith("deploy of v3 failed"))
    assert failed["type"] == "failure" and "v3 to production failed" in failed["message"]
    inbox.wait_for(lambda m: m["title"].endswith("v3 quarantined"))

    # No credential of a notification URL anywhere releasegate keeps or prints.
    code, trail = setup.cli("history", "--all", "--json", "--limit", "500")
    assert code == 0 and json.loads(trail)
    for secret in (PASSWORD, DEAD_PASSWORD):
        assert secret not in trail and secret not in out
