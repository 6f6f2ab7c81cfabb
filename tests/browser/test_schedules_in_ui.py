"""A release train and drift detection as a person sees them in the Prefect UI: the
deployments `releasegate serve` registers (the same list `releasegate setup` registers),
each page showing its schedule in the train's own time zone."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from releasegate import prefect_server
from releasegate.config import Config
from releasegate.schedules import scheduled
from releasegate.serving import _deployment
from tests.support.browser import in_a_thread
from tests.support.prefect_ui import TIMEOUT_MS

TRAIN = {"schedule": {"cron": "0 10 * * 1-4", "timezone": "Europe/Berlin"}}


def register(settings: Config) -> dict[str, str]:
    """Register the scheduled deployments as `releasegate serve` does; their ids by name."""
    ids = {}
    for entry in scheduled(settings):
        made = _deployment(
            entry.flow,
            name=entry.name,
            description=entry.description,
            schedules=entry.schedules,
            parameters=entry.parameters,
        )
        ids[f"{entry.flow.name}/{entry.name}"] = str(made.apply())
    return ids


def test_the_train_and_reconcile_show_their_schedules(make_setup, page: Page) -> None:
    setup = make_setup(staging={}, production=TRAIN)
    ids = in_a_thread(register, setup.load())
    ui = prefect_server.ui_url()
    page.goto(f"{ui}/v2/deployments/deployment/{ids['promote/production']}")
    expect(page.get_by_text("Schedules")).to_be_visible(timeout=TIMEOUT_MS)
    Path("/tmp/sched/ui-train.txt").write_text(page.locator("body").inner_text())
    page.goto(f"{ui}/v2/deployments/deployment/{ids['reconcile/releasegate']}")
    expect(page.get_by_text("Schedules")).to_be_visible(timeout=TIMEOUT_MS)
    Path("/tmp/sched/ui-reconcile.txt").write_text(page.locator("body").inner_text())
