"""What the example app at a URL answers: its version now, how long until it answers one
(the on-call measure of the benchmarks), and the smoke checks that say it is up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

SMOKE = [{"path": "/health", "status": 200}, {"path": "/version", "json": {"version": "{version}"}}]
"""The example app's smoke checks: healthy, and answering the version deployed."""


def version_of(url: str, timeout: float = 5) -> str | None:
    """The version `url` answers now; None while it does not answer one."""
    try:
        return str(httpx.get(f"{url}/version", timeout=timeout).json()["version"])
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: with 10 samples, p95 is the largest."""
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, max(0, round(share * len(ranked) + 0.5) - 1))]


def seconds_until(url: str, expect: str, action: Callable[[], Any], limit: float = 300) -> float:
    """Seconds from starting `action` until `url`/version answers `expect` (polled every
    5 ms from another thread, so an `action` that blocks is timed all the same)."""
    answered: list[float] = []
    started = time.perf_counter()

    def watch() -> None:
        with httpx.Client(timeout=5) as client:
            while time.perf_counter() - started < limit:
                try:
                    if client.get(f"{url}/version").json()["version"] == expect:
                        answered.append(time.perf_counter() - started)
                        return
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
                time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    action()
    watcher.join(timeout=limit)
    if not answered:
        raise AssertionError(f"{url} did not answer {expect} within {limit:.0f}s")
    return answered[0]
