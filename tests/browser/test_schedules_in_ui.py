"""A release train and drift detection as a person sees them in the Prefect UI: the
deployments `releasegate serve` registers (the same list `releasegate setup` registers),
each page showing its schedule in the train's own time zone."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from prefect.deployments.runner import RunnerDeployment

from releasegate import prefect_server
from releasegate.config import Config
from releasegate.deployment_names import promote_name, reconcile_name
from releasegate.serving import specs
from tests.support.browser import in_a_thread
from tests.support.prefect_ui import TIMEOUT_MS

TRAIN = {"schedule": {"cron": "0 10 * * 1-4", "timezone": "Europe/Berlin"}}


def register(settings: Config) -> dict[str, str]:
    """Register the scheduled deployments with the options `releasegate serve` gives them
    (`serving.specs`, which `releasegate setup` uses too); their ids by full name."""
    ids = {}
    for spec in specs(settings):
        if spec.flow.name in ("promote", "reconcile"):
            made = spec.flow.to_deployment(name=spec.name, **spec.options)
            assert isinstance(made, RunnerDeployment)  # the sync call returns the value
            ids[spec.full_name] = str(made.apply())
    return ids


def test_the_train_and_reconcile_show_their_schedules(
    prefect_api: str, make_setup, page: Page
) -> None:
    setup = make_setup(staging={}, production=TRAIN)
    ids = in_a_thread(register, setup.load())
    ui = prefect_server.ui_url()
    page.goto(f"{ui}/v2/deployments/deployment/{ids[promote_name(setup.app, 'production')]}")
    expect(page.get_by_text("Schedules")).to_be_visible(timeout=TIMEOUT_MS)
    # The V2 page words the cron expression; its time zone is the schedule's (not shown there).
    expect(page.get_by_text("At 10:00 AM, Monday through Thursday")).to_be_visible()
    expect(page.get_by_text("flows/promote.py:promote")).to_be_visible()
    page.goto(f"{ui}/v2/deployments/deployment/{ids[reconcile_name(setup.app)]}")
    expect(page.get_by_text("Schedules")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("Every 5 minutes")).to_be_visible()
