"""`releasegate status` prints the Prefect UI and, for each run waiting for approval, a
direct link; the link opens that run in the UI, paused, with its Resume form.

(The demo prints the same link, from `prefect_server.run_url`, when its runs pause.)
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from releasegate import prefect_server, processes
from releasegate.errors import Blocked
from releasegate.flows.deploy import deploy
from tests.flows.conftest import Setup
from tests.support.browser import in_a_thread
from tests.support.prefect_ui import TIMEOUT_MS, PrefectUI

APPROVALS = {"required": 1, "from": "release-managers", "timeout": "2m"}


def awaiting(setup: Setup) -> list[dict[str, Any]]:
    """`releasegate status --json`: production's runs waiting for approval."""
    code, out = in_a_thread(setup.cli, "status", "--json")
    assert code == 0, out
    return list(json.loads(out)["production"]["awaiting_approval"])


def test_status_links_each_run_waiting_for_approval_to_its_page_in_the_ui(
    prefect_api: str, make_setup, page: Page
) -> None:
    setup = make_setup(production={"approvals": APPROVALS})
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(deploy, version="v1", actor="dave")
        waiting: list[dict[str, Any]] = []

        def listed() -> bool:
            waiting[:] = awaiting(setup)
            return bool(waiting) or run.done()

        try:
            processes.wait_until(listed, timeout=60, interval=0.5, what="a waiting run")
            assert len(waiting) == 1, run.result()
            run_id = waiting[0]["flow_run_id"]
            ui_url = prefect_server.ui_url()
            link = f"{ui_url}/v2/runs/flow-run/{run_id}"
            assert waiting[0]["url"] == link and waiting[0]["version"] == "v1"

            code, text = in_a_thread(setup.cli, "status")
            assert code == 0, text
            assert f"Prefect UI: {ui_url}\n" in text
            assert f"production v1 waits for approval (1 more from release-managers): {link}\n" in (
                text
            )

            page.goto(link, timeout=TIMEOUT_MS)  # what a release manager does with it
            prefect = PrefectUI(page, ui_url)
            prefect.wait_for_state("Paused")
            # The description renders after the form's fields (a skeleton first): wait for
            # its text, never read it once.
            expect(prefect.open_resume().description()).to_contain_text(
                f"{setup.app} v1 → production", timeout=TIMEOUT_MS
            )
        finally:
            if waiting and not run.done():  # a rejection ends the run (test or failure)
                in_a_thread(
                    setup.cli, "approve", waiting[0]["flow_run_id"], "--as", "alice", "--reject"
                )
        with pytest.raises(Blocked, match="rejected by alice"):
            run.result(timeout=60)
    processes.wait_until(
        lambda: awaiting(setup) == [], timeout=30, interval=0.5, what="no run listed as waiting"
    )
