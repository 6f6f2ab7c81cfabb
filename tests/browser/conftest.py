"""One real Chromium for the browser tests, which all live in this package.

The browser is started once, for this package, not for the whole session: while
Playwright's sync API is started, the main thread's asyncio loop counts as running, and
every later test would inherit that (Prefect's sync/async helpers would hand back
unawaited coroutines, pytest-asyncio could not run its loop). Stopped, it leaves nothing.
Inside this package, call Prefect from another thread: `tests.support.browser.in_a_thread`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.flows.conftest import make_setup  # noqa: F401  (a fixture: the real flows' setups)
from tests.support import browser as chromium


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless. If it cannot start, every test that uses it fails:
    never a skip. Artifacts of an earlier run are cleared first."""
    chromium.clear_artifacts()
    with sync_playwright() as playwright:
        launched = chromium.launch(playwright)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context of its own (no cookies, no storage), allowed to reach
    127.0.0.1 only. On failure its screenshot and HTML land in test-artifacts/."""
    context = chromium.new_context(browser)
    yield context.new_page()
    context.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the browser is marked `browser` (`-m "not browser"` leaves
    them out)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing browser test leaves a screenshot and the HTML of each open page."""
    report = yield
    used = getattr(item, "funcargs", {}).get("browser")
    if report.failed and used is not None:
        saved = chromium.save_pages(used, f"{item.nodeid}-{report.when}")
        report.sections.append(("browser artifacts", "\n".join(map(str, saved))))
    return report
