"""Drift through the real flows: the local target changed behind releasegate's back is
found by `reconcile`, recorded once (what is live, what should be, first seen), shown by
`status`, announced as a Prefect event and a notification and, with `self_heal`, reverted
through the rollback path; never while a change holds the environment."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from releasegate import processes
from releasegate.flows.deploy import deploy
from releasegate.flows.reconcile import reconcile
from releasegate.policy.quarantine import QUARANTINE
from releasegate.targets.local.state import StateFile
from releasegate.tasks.lock import hold
from tests.flows.conftest import serving
from tests.flows.test_break_glass import frozen_now
from tests.support.inbox import Inbox
from tests.support.people import KEYS


def behind_the_back(home: Path, environment: str, version: str) -> None:
    """Route the environment's traffic to `version`'s warm instances by editing the local
    target's state, as `kubectl set image` would change a cluster: no releasegate code."""
    store = StateFile(home.resolve() / "envs" / environment)
    with store.locked():
        state = store.read()
        assert state is not None
        for instance in state.instances:
            chosen = instance.version == version
            instance.role, instance.weight = ("live", 1) if chosen else ("warm", 0)
        state.generation += 1
        store.write(state)


def drift_events(since: datetime, name: str) -> list[dict[str, Any]]:
    body = {
        "filter": {"occurred": {"since": since.isoformat()}, "event": {"name": [name]}},
        "limit": 50,
    }
    answer = httpx.post(f"{os.environ['PREFECT_API_URL']}/events/filter", json=body, timeout=10)
    answer.raise_for_status()
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def announced(since: datetime, name: str, app: str) -> dict[str, Any]:
    """The first `name` event about `app`'s production since `since`."""
    resource = f"releasegate.environment.{app}.production"
    found: list[dict[str, Any]] = []
    processes.wait_until(
        lambda: bool(
            found.extend(
                e
                for e in drift_events(since, name)
                if e["resource"]["prefect.resource.id"] == resource
            )
            or found
        ),
        timeout=30,
        interval=0.5,
        what=f"a {name} event",
    )
    return found[0]


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    running = Inbox()
    yield running
    running.close()


def test_drift_is_detected_recorded_announced_and_healed(
    make_setup, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELEASEGATE_TEST_NOTIFY", f"json://127.0.0.1:{inbox.port}/rg")
    notify = {"notify": [{"env": "RELEASEGATE_TEST_NOTIFY", "events": ["drift"]}]}
    setup = make_setup(production=notify)
    prod = setup.urls["production"]
    for version in ("v1", "v2"):
        setup.call(deploy, version=version, actor="dave")
    assert setup.call(reconcile) == {"production": "agrees with the trail"}

    since = datetime.now(UTC)
    behind_the_back(setup.home, "production", "v1")
    processes.wait_until(lambda: serving(prod) == "v1", timeout=10, what="the manual change")

    # A change in progress is never second-guessed: the environment is skipped.
    with hold(setup.app, "production", "deploy v3", "erin", say=lambda _: None):
        found = setup.call(reconcile)
    assert found["production"].startswith("not compared: production is locked by deploy v3 by erin")
    assert not setup.records("drift")

    found = setup.call(reconcile)
    assert found["production"].startswith("drift: the target serves v1 (sha256:")
    [detected] = setup.records("drift")
    drift = detected.details["drift"]
    assert detected.status == "detected" and detected.version == "v1"
    assert (drift["live"]["version"], drift["expected"]["version"]) == ("v1", "v2")
    assert datetime.fromisoformat(drift["first_seen"]) >= since

    code, out = setup.cli("status", "--json")
    assert code == 0, out
    shown = json.loads(out)["production"]["drift"]
    assert shown == drift
    code, out = setup.cli("status")
    trail = " ".join(line.split("│")[-2].strip() for line in out.splitlines() if "│" in line)
    assert "drift recorded: serves v1, should be v2, first seen" in trail

    event = announced(since, "releasegate.drift.detected", setup.app)
    assert uuid.UUID(event["id"]).hex == detected.id  # the record's event, the only one
    assert (event["payload"]["version"], event["payload"]["previous_version"]) == ("v1", "v2")
    notice = inbox.wait_for(lambda m: m["title"] == f"{setup.app} production: drift detected")
    assert "the target serves v1" in notice["message"]

    # Still drifted at the next look: nothing more is written, first seen is kept.
    assert setup.call(reconcile) == found
    assert len(setup.records("drift")) == 1

    # During a freeze whose break-glass rule asks for approvals, a self-heal (which nobody
    # can approve) changes nothing and says why; the drift stays recorded.
    frozen = make_setup(
        production={
            "self_heal": True,
            "freeze": frozen_now(),
            "break_glass": {"required": 1, "from": "release-managers"},
            **notify,
        },
        top={"allowed_signers": str(KEYS / "allowed_signers")},
        urls=setup.urls,
        name="frozen.toml",
    )
    refused = frozen.call(reconcile)["production"]
    assert "not healed" in refused and "needs the break-glass approvals" in refused, refused
    assert serving(prod) == "v1" and not frozen.records("rollback")

    healing = make_setup(
        production={"self_heal": True, **notify}, urls=setup.urls, name="heal.toml"
    )
    healed = healing.call(reconcile)
    assert healed["production"].startswith("healed: v2 restored")
    assert serving(prod) == "v2"
    rollback = healing.records("rollback")[0]
    assert rollback.status == "succeeded" and rollback.version == "v2"
    assert rollback.reason is not None and rollback.reason.startswith("self-heal: drift:")
    assert [r.status for r in healing.records("drift")] == ["resolved", "detected"]
    resolved_event = announced(since, "releasegate.drift.resolved", setup.app)
    assert uuid.UUID(resolved_event["id"]).hex == healing.records("drift")[0].id
    assert "reason" not in resolved_event["payload"]  # free text stays in the trail
    resolved = inbox.wait_for(lambda m: m["title"] == f"{setup.app} production: drift resolved")
    assert resolved["message"].startswith("healed: v2 restored")
    assert len(inbox.titles()) == 2  # `events` keeps out the self-heal's rolled-back notice
    # A version put live by hand has not been judged bad: self-heal quarantines nothing.
    assert healing.records("quarantine", QUARANTINE) == []
    assert healing.call(reconcile) == {"production": "agrees with the trail"}
    code, out = healing.cli("audit", "verify")
    assert code == 0, out
