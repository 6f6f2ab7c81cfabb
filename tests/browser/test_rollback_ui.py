"""One-click rollback in the Prefect UI, as on-call does it: the deployment page of
`rollback/webapp-production` (served by a real `releasegate serve`), Run → Quick run, a
reason, Run; the previous version answers on production's URL.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from releasegate import prefect_server, processes
from releasegate.flows.deploy import deploy
from releasegate.serving import rollback_name
from tests.flows.conftest import Setup, serving
from tests.support.browser import in_a_thread, screenshot_for_docs
from tests.support.prefect_ui import TIMEOUT_MS, PrefectUI


def deployment_id(name: str) -> str | None:
    with get_client(sync_client=True) as client:
        try:
            return str(client.read_deployment_by_name(name).id)
        except ObjectNotFound:
            return None


@pytest.fixture
def served(prefect_api: str, make_setup, tmp_path: Path) -> Iterator[Setup]:  # type: ignore[no-untyped-def]
    """v1 then v2 live on production, and `releasegate serve` serving the deployments
    (polling every second, as the README suggests for a quick UI)."""
    setup = make_setup(app={"name": "webapp"})  # the README's screenshot shows its name
    for version in ("v1", "v2"):
        in_a_thread(setup.call, deploy, version=version, actor="dave")
    server = processes.spawn(
        [str(Path(sys.executable).with_name("releasegate")), "serve", "--config", str(setup.path)],
        log=tmp_path / "serve.log",
        env={**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "1"},
    )
    try:
        yield setup
    finally:
        processes.stop(server.pid)


def test_a_quick_run_of_the_rollback_deployment_restores_the_previous_version(
    served: Setup, page: Page
) -> None:
    production = served.urls["production"]
    assert serving(production) == "v2"
    name = rollback_name("webapp", "production")
    found: list[str] = []

    def registered() -> bool:
        found[:] = [i for i in [in_a_thread(deployment_id, name)] if i]
        return bool(found)

    processes.wait_until(registered, timeout=90, interval=0.5, what=f"{name} served")

    prefect = PrefectUI(page, prefect_server.ui_url())
    prefect.open_deployment(found[0])
    expect(page.get_by_role("main")).to_contain_text("webapp-production", timeout=TIMEOUT_MS)
    form = prefect.quick_run()
    form.fill("reason", "v2 returns errors after the schema change")
    screenshot_for_docs(page, "rollback-in-the-prefect-ui.png")
    toast = form.submit()
    assert toast.ok, toast

    def rolled_back() -> bool:
        done = served.records("rollback")
        return bool(done) and done[0].status == "succeeded"

    processes.wait_until(rolled_back, timeout=90, interval=0.5, what="the rollback recorded")
    assert serving(production) == "v1"
    rolled = served.records("rollback")[0]
    assert rolled.version == "v1"
    assert rolled.reason == "v2 returns errors after the schema change"
    assert rolled.actor_proof == "claimed"  # nobody proved who clicked
