"""Smoke checks over HTTP: requests against an environment, retried until they pass or
time runs out."""

from __future__ import annotations

import functools
import ssl
import time
from typing import Any

import httpx

from releasegate.redaction import redact_url
from releasegate.sources.base import CheckResult, SmokeReport
from releasegate.sources.settings import SmokeCheck


class HttpSmoke:
    """A SmokeRunner: the environment's checks, each retried until it passes once or
    `timeout` seconds have gone by."""

    def __init__(self, checks: tuple[SmokeCheck, ...], *, timeout: float) -> None:
        self.checks = checks
        self.timeout = timeout

    def check(self, base_url: str, version: str) -> SmokeReport:
        return run_checks(base_url, self.checks, version, timeout=self.timeout)


def expectation(check: SmokeCheck, version: str) -> tuple[int, dict[str, Any]]:
    """The status and JSON fields `check` expects, with `{version}` filled in."""
    fields = {
        key: value.replace("{version}", version) if isinstance(value, str) else value
        for key, value in check.json_fields.items()
    }
    return check.status, fields


def judge(check: SmokeCheck, version: str, response: httpx.Response) -> tuple[bool, str]:
    """Does `response` satisfy `check`? Returns (passed, what was observed)."""
    status, fields = expectation(check, version)
    if response.status_code != status:
        return False, f"status {response.status_code}"
    if not fields:
        return True, f"status {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return False, "a body that is not JSON"
    observed = {key: body.get(key) if isinstance(body, dict) else None for key in fields}
    return observed == fields, f"status {response.status_code}, {observed}"


def run_checks(
    base_url: str, checks: tuple[SmokeCheck, ...], version: str, *, timeout: float
) -> SmokeReport:
    """Run every check until each passes once or `timeout` seconds have gone by."""
    deadline = time.monotonic() + timeout
    results = []
    with httpx.Client(base_url=base_url, timeout=5.0, verify=_tls()) as client:
        for check in checks:
            results.append(_until_pass(client, check, version, deadline))
    return SmokeReport(url=redact_url(base_url), version=version, results=results)


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CAs), built once per process: building it
    loads the CA bundle, ~50 ms of CPU that every smoke run paid, mostly for plain-HTTP
    local URLs, and twice per change (the candidate, then the live URL)."""
    return httpx.create_ssl_context()


def _until_pass(
    client: httpx.Client, check: SmokeCheck, version: str, deadline: float
) -> CheckResult:
    status, fields = expectation(check, version)
    expected = f"status {status}" + (f", {fields}" if fields else "")
    attempts, observed, passed = 0, "no answer", False
    while True:
        attempts += 1
        try:
            passed, observed = judge(check, version, client.get(check.path))
        except httpx.HTTPError as exc:
            observed = f"no answer ({type(exc).__name__})"
        if passed or time.monotonic() >= deadline:
            break
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    return CheckResult(
        url=redact_url(str(client.build_request("GET", check.path).url)),
        expected=expected,
        observed=observed,
        passed=passed,
        attempts=attempts,
    )
