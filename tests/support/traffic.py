"""Continuous HTTP load against an environment's URL, counting every failed request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from releasegate.processes import wait_until

MAX_SECONDS = 60.0
MAX_REQUESTS = 50_000


class Traffic:
    """Clients requesting `url/version` in a loop, bounded in time and count."""

    def __init__(self, url: str, clients: int = 3, max_seconds: float = MAX_SECONDS) -> None:
        self.url = url
        self.max_seconds = max_seconds
        self.versions: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.versions) + len(self.failures)

    def more(self, n: int) -> None:
        """Wait until `n` more requests are done."""
        goal = self.count + n
        wait_until(lambda: self.count >= goal, timeout=10, what=f"{n} more requests")

    @contextmanager
    def running(self) -> Iterator[Traffic]:
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(timeout=10)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        # A keep-alive client, as most are: the proxy must not break pooled connections.
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                if self.count >= MAX_REQUESTS:
                    return
                try:
                    response = client.get(f"{self.url}/version")
                    outcome = response.json()["version"] if response.status_code == 200 else None
                    error = f"HTTP {response.status_code}: {response.text[:200]}"
                except (httpx.HTTPError, ValueError) as exc:
                    outcome, error = None, repr(exc)
                with self._lock:
                    if outcome is None:
                        self.failures.append(error)
                    else:
                        self.versions.append(outcome)
