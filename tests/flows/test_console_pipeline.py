"""The pipeline's commands through the real `releasegate` console script, as people type
them: `demo` then `down`, and `pending` then `approve` on a paused run."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from releasegate import processes
from releasegate.demo import in_background
from releasegate.flows.deploy import deploy
from tests.conftest import REPO
from tests.flows.conftest import serving
from tests.support.console import one_line, run
from tests.support.people import KEYS, proof


def test_demo_then_down(tmp_path: Path) -> None:
    """The demo's own configuration, on free ports, a home of its own and an app name no
    other test uses, against the session's Prefect server (PREFECT_API_URL)."""
    config = tmp_path / "releasegate.toml"
    text = (REPO / "deployments" / "releasegate.toml").read_text()
    text = text.replace('"../examples/', f'"{REPO}/examples/')
    config.write_text(f'home = "{tmp_path / "home"}"\n' + text)
    urls = {env: f"http://127.0.0.1:{processes.free_port()}" for env in ("staging", "production")}
    env = {
        "RELEASEGATE_APP__NAME": "demo-console",
        "RELEASEGATE_ENVIRONMENTS__STAGING__URL": urls["staging"],
        "RELEASEGATE_ENVIRONMENTS__PRODUCTION__URL": urls["production"],
    }
    try:
        demo = run("demo", "--config", str(config), timeout=400, **env)
        assert demo.returncode == 0, demo.stderr
        for said in ("alice approved v1", "bob approved v2", "rollback production"):
            assert said in demo.stdout
        assert serving(urls["production"]) == "v1"  # v2, then carol's rollback to v1
    finally:
        down = run("down", "--config", str(config), **env)
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    for url in urls.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)
    again = run("down", "--config", str(config), **env)
    assert again.returncode == 0 and "nothing was running" in again.stdout


def test_pending_then_approve(make_setup) -> None:
    setup = make_setup(
        app={"name": "console-approve"},
        production={
            "approvals": {"required": 1, "from": "release-managers", "signed": True},
        },
        top={"allowed_signers": str(KEYS / "allowed_signers")},
    )
    config = str(setup.path)
    started = in_background(
        setup.call,
        flow=deploy,
        version="c1",
        actor="dave",
        proof=proof("c1", "dave", KEYS / "dave", app="console-approve"),
    )
    waiting: list[dict[str, object]] = []

    def asked() -> bool:
        listed = run("pending", "--json", "--config", config)
        assert listed.returncode == 0, listed.stderr
        waiting[:] = [r for r in json.loads(listed.stdout) if r["app"] == "console-approve"]
        return bool(waiting)

    processes.wait_until(asked, timeout=120, interval=1, what="the paused run in `pending`")
    run_id = str(waiting[0]["flow_run_id"])
    assert waiting[0]["version"] == "c1" and waiting[0]["actor"] == "dave"

    refused = run(
        "approve", run_id, "--as", "dave", "--key", str(KEYS / "dave"), "--config", config
    )
    assert refused.returncode == 3, refused.stderr
    assert "the run refused dave's decision" in one_line(refused.stderr)

    approved = run(
        "approve", run_id, "--as", "carol", "--key", str(KEYS / "carol"), "--config", config
    )
    assert approved.returncode == 0, approved.stderr
    assert "carol approved" in approved.stdout and "the decision counts" in approved.stdout
    started.result(timeout=180)
    assert serving(setup.urls["production"]) == "c1"
    listed = run("pending", "--json", "--config", config)
    assert [r for r in json.loads(listed.stdout) if r["app"] == "console-approve"] == []
