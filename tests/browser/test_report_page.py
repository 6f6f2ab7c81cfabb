"""The HTML report as a person sees it, in the suite's Chromium: every chart drawn, the
figures legible, and not one request made. A screenshot is saved under test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Page, Request

from releasegate.audit.file import FileAuditStore
from releasegate.report import build
from releasegate.report_page import page as report_page
from tests.support import browser as chromium
from tests.support.bulk import write_history
from tests.support.histories import D, History, a_week


def test_the_report_page_shows_every_chart_and_fetches_nothing(page: Page, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    store = FileAuditStore(tmp_path / "audit")
    write_history(store, a_week(now - 7 * D).entries)
    write_history(store, History("staging").change(now - 6 * D, "s1", "v1").entries)
    html = report_page(build(store, ["staging", "production"], since=now - 30 * D, now=now))
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))

    page.set_content(html, wait_until="load")

    assert requests == []
    charts = page.locator(".chart svg")
    assert charts.count() == 8
    for n in range(8):
        box = charts.nth(n).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
    production = page.locator("#env-production")
    row = production.locator("tr", has_text="change failure rate")
    assert row.locator("td").inner_text() == "60% (3 of 5 changes failed or were rolled back)"
    missing = page.locator("#env-staging tr", has_text="lead time for changes").locator("td")
    assert missing.inner_text() == "unknown: 1 changes have no commit time"
    assert missing.evaluate("cell => getComputedStyle(cell).color") == "rgb(161, 92, 0)"
    assert production.locator("text.plot_title", has_text="production: approval wait").is_visible()
    chromium.ARTIFACTS.mkdir(exist_ok=True)
    shot = chromium.ARTIFACTS / "report-page.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 10_000
