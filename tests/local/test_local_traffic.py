"""Traffic through the environment's URL while releases switch: not one request may fail."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from releasegate.processes import wait_until
from releasegate.targets.local import LocalBuilder, LocalTarget

from .conftest import MakeTarget, Probe

MAX_SECONDS = 60.0
MAX_REQUESTS = 50_000


class Traffic:
    """Clients requesting `url/version` in a loop, bounded in time and count."""

    def __init__(self, url: str, clients: int = 3) -> None:
        self.url = url
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
        deadline = time.monotonic() + MAX_SECONDS
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


def pids(target: LocalTarget) -> set[int]:
    status = target.status()
    return {status["proxy"]["pid"]} | {i["pid"] for i in status["instances"] if i["running"]}


def test_blue_green_switch_and_warm_rollback_lose_nothing(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(strategy="blue-green")
    v1, v2 = builder.build("1.0.0"), builder.build("2.0.0")
    target.deploy(v1, probe)

    with Traffic(target.url).running() as traffic:
        traffic.more(100)
        target.deploy(v2, probe)
        traffic.more(100)
        before_rollback = pids(target)
        target.rollback(v1, probe)
        assert pids(target) == before_rollback, "a warm rollback starts no process"
        traffic.more(100)

    assert traffic.failures == []
    assert traffic.count > 300
    switches = [v for i, v in enumerate(traffic.versions) if i == 0 or traffic.versions[i - 1] != v]
    assert switches[0] == "1.0.0"
    assert {"1.0.0", "2.0.0"} <= set(switches)
    assert traffic.versions[-1] == "1.0.0"


@pytest.mark.parametrize("strategy", ["rolling", "canary"])
def test_draining_strategies_lose_nothing(
    strategy: str, builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(strategy=strategy)
    target.deploy(builder.build("1.0.0"), probe)

    with Traffic(target.url).running() as traffic:
        traffic.more(100)
        target.deploy(builder.build("2.0.0"), probe)
        traffic.more(100)

    assert traffic.failures == []
    assert {"1.0.0", "2.0.0"} <= set(traffic.versions)
    assert traffic.versions[-1] == "2.0.0"
