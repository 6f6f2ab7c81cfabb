"""Each step that matters is a Prefect event, seen through Prefect's own API; the README's
automation ("production rolled back") fires on them and calls its webhook for real; each
production change published the dashboard's figures as a markdown artifact.

One app of its own (a unique name), three runs: v1 (a refused and an accepted approval,
with a commit time), a branch the gates block, and a broken v2 whose failure rolls
production back to v1 by itself.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.events.filters import (
    EventFilter,
    EventNameFilter,
    EventOccurredFilter,
    EventResourceFilter,
)
from prefect.events.schemas.automations import AutomationCore
from prefect.events.schemas.events import Event

from releasegate.errors import Blocked, DeployFailed
from releasegate.flows.deploy import deploy
from releasegate.tasks.audit import artifact_key
from tests.conftest import REPO
from tests.flows.conftest import broken_source, serving
from tests.support.jsonhttp import JsonServer
from tests.support.people import Reviewers, Step

AUTOMATION = REPO / "deployments" / "automations" / "production-rolled-back.yaml"
PRODUCTION = {
    "branches": ["main"],
    "approvals": {"required": 1, "from": "release-managers", "timeout": "2m"},
}


@pytest.fixture
def hook() -> Iterator[JsonServer]:
    """The webhook the automation calls: a real HTTP server on 127.0.0.1."""
    server = JsonServer(lambda path: (200, {"ok": True}))
    yield server
    server.close()


@pytest.fixture
def automation(hook: JsonServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """The README's automation, limited to this test's app, calling `hook`."""
    app = f"ev{uuid.uuid4().hex[:8]}"
    block = Webhook(method="POST", url=f"{hook.url}/rolled-back")  # type: ignore[arg-type]
    block_id = block.save(f"releasegate-test-{app}")
    spec = yaml.safe_load(AUTOMATION.read_text().replace("WEBHOOK_BLOCK_ID", str(block_id)))
    spec["trigger"]["match"]["releasegate.app"] = app
    spec["name"] += f" ({app})"
    with get_client(sync_client=True) as client:
        made = client.create_automation(AutomationCore.model_validate(spec))
    yield app
    with get_client(sync_client=True) as client:
        client.delete_automation(made)


def events(app: str, since: datetime, count: int, timeout: float = 30) -> list[Event]:
    """This app's releasegate events, oldest first, once there are `count` of them."""
    wanted = EventFilter(
        event=EventNameFilter(prefix=["releasegate."]),
        occurred=EventOccurredFilter(since=since),
        resource=EventResourceFilter(labels={"releasegate.app": [app]}),  # type: ignore[arg-type]
    )
    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as client:
            page = client.request("POST", "/events/filter", json={
                "filter": wanted.model_dump(mode="json"), "limit": 50
            }).json()  # fmt: skip
        found = [Event.model_validate(e) for e in page["events"]]
        if len(found) >= count or time.monotonic() > deadline:
            return sorted(found, key=lambda e: e.occurred)
        time.sleep(0.5)


def test_steps_are_prefect_events_and_a_rollback_of_production_fires_the_automation(
    make_setup: Any, automation: str, hook: JsonServer, tmp_path: Path
) -> None:
    app = automation
    started = datetime.now(UTC) - timedelta(seconds=5)
    good = make_setup(app={"name": app}, production=PRODUCTION)
    committed = datetime.now(UTC) - timedelta(hours=2)
    reviewers = Reviewers("v1", [Step("mallory"), Step("alice")]).start()
    good.call(deploy, version="v1", actor="carol", committed_at=committed)
    reviewers.join()
    with pytest.raises(Blocked):
        good.call(deploy, version="v1b", branch="feature/x", actor="carol")
    broken = make_setup(
        app={"name": app, "source": str(broken_source(tmp_path, good))},
        production={**PRODUCTION, "smoke_timeout": "1s"},  # its probe fails at once
        name="broken.toml",
        urls=good.urls,
    )
    reviewers = Reviewers("v2", [Step("bob")]).start()
    with pytest.raises(DeployFailed):
        broken.call(deploy, version="v2", actor="carol")
    reviewers.join()
    assert serving(good.urls["production"]) == "v1"
    v1 = next(r for r in good.records("deploy") if r.version == "v1" and r.status == "succeeded")
    assert v1.details["committed_at"] == committed.isoformat()

    seen = events(app, started, count=14)
    names = [e.event for e in seen]
    # 6 for v1, 1 blocked, 6 for v2 and its rollback, 1 for v2's quarantine (which the
    # automatic rollback writes in the `_quarantine` chain: announced on production all
    # the same)
    assert len(names) == 14, names
    routine = {
        "releasegate.gate.passed",
        "releasegate.verify.passed",
        "releasegate.trigger.accepted",
    }
    assert not routine & set(names)
    for name in (
        "releasegate.deployment.started",
        "releasegate.deployment.succeeded",
        "releasegate.deployment.failed",
        "releasegate.rollback.succeeded",
        "releasegate.gate.blocked",
        "releasegate.approval.requested",
        "releasegate.approval.accepted",
        "releasegate.approval.refused",
        "releasegate.quarantine.quarantined",
    ):
        assert name in names, f"{name} not among {names}"
    assert names.count("releasegate.approval.requested") == 3  # v1 twice (after mallory), v2
    trail = {r.id: r for r in good.records("deploy") + good.records("rollback")}
    for event in seen:
        assert event.resource.id == f"releasegate.environment.{app}.production"
        assert event.resource["releasegate.environment"] == "production"
        roles = {r.role: r for r in event.related}
        assert roles["flow-run"].id.startswith("prefect.flow-run.")
        assert roles["version"]["prefect.resource.name"] == event.payload["version"]
        assert roles["digest"].id == f"releasegate.digest.{event.payload['digest']}"
        if (record := trail.get(event.id.hex)) is not None:  # the event is the record's
            assert (record.version, record.artifact) == (
                event.payload["version"],
                event.payload["digest"],
            )
            assert roles["flow-run"].id == f"prefect.flow-run.{record.flow_run_id}"
    blocked = next(e for e in seen if e.event == "releasegate.gate.blocked")
    assert blocked.payload["blocked_by"] == ["branch"]
    refused = next(e for e in seen if e.event == "releasegate.approval.refused")
    assert (refused.payload["reviewer"], refused.payload["refusal"]) == ("mallory", "not-a-member")
    rolled_back = next(e for e in seen if e.event == "releasegate.rollback.succeeded")
    assert (rolled_back.payload["version"], rolled_back.payload["previous_version"]) == ("v1", "v1")
    # No free text reaches an event: reasons, smoke output, URLs and signatures stay in the trail.
    text = json.dumps([e.payload for e in seen])
    assert "automatic rollback" not in text and "http://" not in text and "versoin" not in text

    deadline = time.monotonic() + 60
    while not hook.posted and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(hook.posted) == 1, "the automation did not call its webhook"
    message = hook.posted[0]["text"]
    assert f"{app} production rolled back to v1 by" in message
    assert rolled_back.related[0].id.removeprefix("prefect.flow-run.") in message

    # Each production change published the figures as they stood: v1, v2 failed, the rollback.
    with get_client(sync_client=True) as client:
        key = ArtifactFilterKey(any_=[artifact_key(app, "figures")])
        figures = client.read_artifacts(artifact_filter=ArtifactFilter(key=key))
    assert len(figures) == 3
    newest = max(figures, key=lambda a: a.created or started)
    assert isinstance(newest.data, str) and "## production" in newest.data
    assert "| deployment frequency | 1 deploys in" in newest.data
    assert (
        "| change failure rate | 50% (1 of 2 changes failed or were rolled back) |" in newest.data
    )
    assert "| refused approvals | not-a-member: 1 |" in newest.data


def test_a_commit_time_must_be_a_time_with_a_zone(make_setup: Any) -> None:
    setup = make_setup()
    code, out = setup.cli("deploy", "v1", "--committed-at", "yesterday")
    assert code == 2 and "committed_at: Input should be a valid datetime" in out
    code, out = setup.cli("deploy", "v1", "--committed-at", "2026-11-27T10:00:00")
    assert code == 2 and "committed_at: Input should have timezone info" in out
    assert setup.records("deploy") == []
