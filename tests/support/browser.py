"""A real Chromium for the browser tests: Debian's, driven by Playwright's Python package.

Playwright's own browser download cannot work on these machines (no network beyond the
package registries), so it drives /usr/bin/chromium, installed by `make test` through
scripts/system-deps (the Makefile's TEST_DEBS). Never `playwright install`.

Each test gets a fresh context (cookies, storage) whose requests may only reach
127.0.0.1: the Prefect UI calls an analytics service on the internet even with
PREFECT_SERVER_ANALYTICS_ENABLED=false, and a test sends traffic nowhere else.

While the browser runs, Playwright's event loop counts as running in the main thread:
Prefect's sync/async helpers (`resume_flow_run`, `read_flow_run_input`, and so
`releasegate approve`, `review.pending`, `releasegate status`) called there return an
unawaited coroutine instead of doing their work. Call them through `in_a_thread`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route

from tests.support.modules import REPO

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",  # root on CI: Chromium's sandbox refuses to run as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}  # a laptop screen
ARTIFACTS = REPO / "test-artifacts"
"""Where a failing browser test leaves a screenshot and the HTML of each open page."""
ELSEWHERE = re.compile(r"^(?!(https?|wss?)://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/)")
"""Any URL that is not on this machine. Matched by Playwright's driver, so requests to
127.0.0.1 are not routed through Python (no cost); data: URLs are never routed."""
P = ParamSpec("P")
T = TypeVar("T")


def in_a_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in a thread of its own, where no event loop runs: what a
    browser test uses to call Prefect (and releasegate commands that talk to it)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def launch(playwright: Playwright) -> Browser:
    """Start Debian's Chromium, headless. Playwright gives it a fresh user-data directory
    (a temporary profile, removed on close). Raises if it cannot start: a browser test
    then fails, it never skips."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def new_context(browser: Browser) -> BrowserContext:
    """A fresh context whose requests to anywhere but 127.0.0.1 are refused."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.route(ELSEWHERE, _refuse)
    return context


def _refuse(route: Route) -> None:
    route.abort("blockedbyclient")


def clear_artifacts() -> None:
    """Forget the artifacts of an earlier run: what is there after a run is that run's."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)


def save_pages(browser: Browser, name: str) -> list[Path]:
    """A screenshot (full page) and the HTML of every open page, under ARTIFACTS."""
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
    saved: list[Path] = []
    for index, page in enumerate(_pages(browser)):
        base = stem if index == 0 else f"{stem}-{index}"
        png, html = ARTIFACTS / f"{base}.png", ARTIFACTS / f"{base}.html"
        try:
            page.screenshot(path=png, full_page=True, timeout=10_000)
            html.write_text(page.content())
            saved += [png, html]
        except Exception as exc:  # a crashed page must not hide the test's own failure
            note = ARTIFACTS / f"{base}.txt"
            note.write_text(f"could not save {page.url}: {exc}\n")
            saved.append(note)
    return saved


def _pages(browser: Browser) -> Iterable[Page]:
    for context in browser.contexts:
        yield from context.pages


DOCS = REPO / "docs"
UPDATE_DOCS = "RELEASEGATE_UPDATE_SCREENSHOTS"


def screenshot_for_docs(page: Page, name: str) -> Path:
    """A screenshot the README shows, taken as the test sees the page: saved under
    test-artifacts/docs/ on every run (to look at after a change in the UI), and over
    docs/<name> when RELEASEGATE_UPDATE_SCREENSHOTS=1 (then committed by hand)."""
    folder = DOCS if os.environ.get(UPDATE_DOCS) == "1" else ARTIFACTS / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / name, timeout=10_000)
    return folder / name
