"""A paused run, resumed by a person in the browser: the door releasegate's approvals use.

The flow pauses exactly as the approval gate does (`pause_flow_run(wait_for_input=...)`
with a RunInput and a markdown description); the browser opens the run, finds Resume
(V2: in the ⋮ menu; V1: a button), fills a textarea by its label and submits; the run
gets what was typed. The approval and rollback browser tests drive the same helpers
(tests/support/prefect_ui.py) against the real flows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from uuid import UUID

import pytest
from playwright.sync_api import Page, expect
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from pydantic import Field

from releasegate import prefect_server, processes
from tests.support.browser import in_a_thread
from tests.support.prefect_ui import TIMEOUT_MS, UI, PrefectUI

SIGNATURE = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ\n-----END SSH SIGNATURE-----"


class Decision(RunInput):
    """A form shaped like the approval's: a required field and an optional one."""

    reviewer: str = Field(description="Your name")
    signature: str = Field(default="", description="The SSH signature")


@flow(name="waits-for-a-decision")
def waits_for_a_decision() -> Decision:
    return pause_flow_run(
        wait_for_input=Decision.with_initial_data(
            description="## Approve webapp v7 for **production**?\n\n- **Digest:** `sha256:abc`"
        ),
        timeout=120,
        poll_interval=1,  # resume latency (Prefect's default is 10 s)
    )


@pytest.fixture
def paused(prefect_api: str) -> Iterator[tuple[str, Future[Decision]]]:
    """A run of `waits_for_a_decision` paused on the session's server: its id and result."""
    name = f"paused-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(waits_for_a_decision.with_options(flow_run_name=name))
        found: list[UUID] = []

        def is_paused() -> bool:
            with get_client(sync_client=True) as client:
                runs = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
                )
            found[:] = [r.id for r in runs if r.state and r.state.is_paused()]
            return bool(found) or result.done()

        processes.wait_until(is_paused, timeout=60, interval=0.2, what=f"{name} paused")
        assert found, f"the run ended without pausing: {result.result()}"
        yield str(found[0]), result
        if not result.done():  # the test failed before resuming it: do not wait 120 s
            in_a_thread(resume_flow_run, found[0], run_input={"reviewer": "teardown"})


@pytest.mark.parametrize("ui", ["v2", "v1"])
def test_a_paused_run_is_resumed_through_its_form_in_the_browser(
    paused: tuple[str, Future[Decision]], page: Page, ui: UI
) -> None:
    run_id, result = paused
    prefect = PrefectUI(page, prefect_server.ui_url(), ui)
    prefect.open_run(run_id)
    prefect.wait_for_state("Paused")

    form = prefect.open_resume()
    description = form.description()
    expect(description).to_contain_text("Approve webapp v7 for production?", timeout=TIMEOUT_MS)
    expect(description).to_contain_text("sha256:abc")
    form.fill("Reviewer", "alice")
    form.fill("Signature", SIGNATURE)  # an optional field, labelled "Signature (Optional)"
    toast = form.submit()
    assert toast.ok and toast.text == "Flow run resumed"

    decision = result.result(timeout=60)
    assert (decision.reviewer, decision.signature) == ("alice", SIGNATURE)  # lines intact
    prefect.wait_for_state("Completed")


def test_a_form_the_server_refuses_says_why_and_the_run_stays_paused(
    paused: tuple[str, Future[Decision]], page: Page
) -> None:
    """The server checks the input against the RunInput's schema before it resumes: the
    toast says so (and turns red), nothing reaches the flow."""
    run_id, result = paused
    prefect = PrefectUI(page, prefect_server.ui_url())
    prefect.open_run(run_id)
    toast = prefect.open_resume().submit()  # the required reviewer left empty
    assert not toast.ok
    assert "'reviewer' is a required property" in toast.text
    page.reload()
    prefect.wait_for_state("Paused")
    assert not result.done()
