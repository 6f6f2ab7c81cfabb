"""How long until a URL answers a version: the on-call measure (benchmarks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx


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
