"""Smoke checks against a real HTTP server: status, JSON fields, retry until a deadline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from releasegate.sources.settings import SmokeCheck
from releasegate.sources.smoke import run_checks
from tests.support.jsonhttp import JsonServer


@pytest.fixture
def app() -> Iterator[dict]:
    """A tiny app whose answers the test changes: `/ns/health` is 503 for the first
    `healthy_after` requests; every path answers {"version": ...}."""
    state = {"version": "v1", "calls": 0, "healthy_after": 0}

    def respond(path: str) -> tuple[int, dict]:
        state["calls"] += 1
        ready = state["calls"] > state["healthy_after"] or path != "/ns/health"
        return (200 if ready else 503), {"version": state["version"]}

    server = JsonServer(respond)
    state["url"] = f"{server.url}/ns"
    yield state
    server.close()


CHECKS = (
    SmokeCheck(path="/health"),
    SmokeCheck.model_validate({"path": "/version", "json": {"version": "{version}"}}),
)


def test_checks_pass_and_report_the_urls_they_hit(app: dict) -> None:
    report = run_checks(app["url"], CHECKS, "v1", timeout=5)
    assert report.passed
    assert [r.url for r in report.results] == [f"{app['url']}/health", f"{app['url']}/version"]


def test_a_wrong_version_fails_with_what_was_expected_and_seen(app: dict) -> None:
    report = run_checks(app["url"], CHECKS, "v2", timeout=0.5)
    assert not report.passed
    assert "expected status 200, {'version': 'v2'}" in report.failures()
    assert "{'version': 'v1'}" in report.failures()


def test_checks_are_retried_until_the_app_is_ready(app: dict) -> None:
    app["healthy_after"] = 3
    report = run_checks(app["url"], CHECKS, "v1", timeout=10)
    assert report.passed and report.results[0].attempts == 4


def test_urls_are_reported_as_requested_with_or_without_a_base_path(app: dict) -> None:
    root = app["url"].removesuffix("/ns")
    report = run_checks(root, CHECKS, "v1", timeout=5)
    assert [r.url for r in report.results] == [f"{root}/health", f"{root}/version"]
