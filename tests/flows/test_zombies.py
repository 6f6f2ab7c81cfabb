"""A flow run whose process is killed does not stay Running: Prefect's heartbeats and the
zombie automation releasegate sets up, on the real server, with a real killed process."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import httpx
from prefect.client.orchestration import get_client
from prefect.settings import get_current_settings

from releasegate import processes
from releasegate.tasks.zombies import NAME, ensure_zombie_detection, zombie_automation

PROBE = """
import time
from prefect import flow
from prefect.runtime import flow_run

@flow(name={name!r})
def probe() -> None:
    print("RUN", flow_run.get_id(), flush=True)
    time.sleep(600)

probe()
"""


def heartbeats(run_id: str) -> int:
    api = os.environ["PREFECT_API_URL"]
    body = {
        "filter": {
            "event": {"name": ["prefect.flow-run.heartbeat"]},
            "resource": {"id": [f"prefect.flow-run.{run_id}"]},
        }
    }
    return int(httpx.post(f"{api}/events/filter", json=body, timeout=10).json()["total"])


def state(run_id: str) -> str:
    with get_client(sync_client=True) as client:
        found = client.read_flow_run(UUID(run_id)).state
    return found.type.value if found else "NONE"


def test_a_killed_runs_missing_heartbeats_mark_it_crashed(tmp_path: Path) -> None:
    flow_name = f"zombie-probe-{uuid.uuid4().hex[:8]}"
    automation = zombie_automation(
        name=f"test: {flow_name}", flows=[flow_name], within=timedelta(seconds=10)
    )
    ensure_zombie_detection(automation)
    log = tmp_path / "probe.log"
    script = PROBE.format(name=flow_name)
    probe = processes.spawn([sys.executable, "-c", script], log=log, env=dict(os.environ))
    try:
        processes.wait_until(
            lambda: "RUN " in log.read_text(), timeout=60, interval=0.2, what="the probe"
        )
        run_id = log.read_text().split("RUN ", 1)[1].split()[0]
        processes.wait_until(
            lambda: heartbeats(run_id) > 0, timeout=30, interval=0.5, what="a heartbeat"
        )
        assert state(run_id) == "RUNNING"
    finally:
        os.kill(probe.pid, signal.SIGKILL)
        probe.wait()
    processes.wait_until(
        lambda: state(run_id) == "CRASHED", timeout=60, interval=0.5, what="the run to crash"
    )
    with get_client(sync_client=True) as client:
        message = client.read_flow_run(UUID(run_id)).state.message  # type: ignore[union-attr]
        for made in client.read_automations_by_name(automation.name):
            client.delete_automation(made.id)
    assert "no heartbeat" in (message or "")


def test_releasegates_automation_is_created_once_and_waits_three_heartbeats() -> None:
    ensure_zombie_detection()
    ensure_zombie_detection()
    with get_client(sync_client=True) as client:
        made = client.read_automations_by_name(NAME)
    assert len(made) == 1
    every = get_current_settings().flows.heartbeat_frequency or 180
    assert made[0].trigger.within == timedelta(seconds=3 * every)  # type: ignore[union-attr]


def test_automations_created_twice_by_runs_starting_together_end_as_one() -> None:
    automation = zombie_automation(name=f"test: twice {uuid.uuid4().hex[:8]}", flows=["none"])
    with get_client(sync_client=True) as client:
        for _ in range(3):  # as three runs that each found none would have
            client.create_automation(automation)
    ensure_zombie_detection(automation)
    with get_client(sync_client=True) as client:
        left = client.read_automations_by_name(automation.name)
        assert len(left) == 1
        client.delete_automation(left[0].id)


def test_an_automation_made_before_a_flow_was_added_is_updated_to_watch_it() -> None:
    name = f"test: older {uuid.uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        client.create_automation(zombie_automation(name=name, flows=["deploy", "rollback"]))
    wanted = zombie_automation(name=name, flows=["deploy", "rollback", "promote"])
    ensure_zombie_detection(wanted)
    with get_client(sync_client=True) as client:
        [now] = client.read_automations_by_name(name)
        client.delete_automation(now.id)
    assert now.trigger.match_related == wanted.trigger.match_related  # type: ignore[union-attr]
    assert now.trigger.match_related != (  # type: ignore[union-attr]
        zombie_automation(name=name, flows=["deploy", "rollback"]).trigger.match_related
    )
