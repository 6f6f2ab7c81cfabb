"""Mixed traffic through the environment's URL while releases switch: every response checked.

The load (tests/support/traffic.py) mixes quick GETs, slow GETs and POSTs with bodies on
keep-alive clients. The instances run with no grace period (`--grace 0`): SIGTERM cuts what
they still serve, so a deployer that stops an instance while a request is in flight to it,
or before it has left the routes, fails here instead of being covered by the app's graceful
shutdown. The proxy's retry counters must stay at zero as well: a retry hides a bad switch
from clients (a refused GET is resent), so it is counted and a correct switch needs none.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from releasegate.processes import wait_until
from releasegate.targets.local.bundle import LocalBuilder
from releasegate.targets.local.target import LocalTarget
from tests.support.traffic import KINDS, Traffic

from .conftest import MakeTarget, Probe, proxy_stats

GRACELESS = ("{python}", "app.py", "--fd", "{fd}", "--grace", "0")
PER_PHASE = 5  # requests of each kind that finish before and after every switch
NO_RETRIES = {"refused": 0, "dropped": 0}


@dataclass(frozen=True)
class Switch:
    """When a deploy or rollback ran (time.monotonic())."""

    started: float
    finished: float


def switch(traffic: Traffic, action: Callable[[], None]) -> Switch:
    """Run `action` between two rounds of traffic of every kind."""
    traffic.more(PER_PHASE)
    started = time.monotonic()
    action()
    finished = time.monotonic()
    traffic.more(PER_PHASE)
    return Switch(started, finished)


def served_between(traffic: Traffic, start: float, end: float) -> set[str | None]:
    """The versions that served the requests that started after `start` and ended before `end`."""
    return {o.version for o in traffic.started_after(start) if o.finished < end}


def check_switch(
    traffic: Traffic, done: Switch, old: str, new: str, *, since: float, until: float = math.inf
) -> None:
    """Requests of every kind were in flight while traffic moved; `old` served every request
    from `since` until the switch began, `new` every one from its end until `until`."""
    assert {o.kind for o in traffic.between(done.started, done.finished)} == set(KINDS)
    assert served_between(traffic, since, done.started) == {old}
    assert served_between(traffic, done.finished, until) == {new}


def check_proxy(url: str, before: dict[str, Any], traffic: Traffic) -> dict[str, Any]:
    """The same proxy saw exactly the clients' requests and retried none; its stats."""
    # The clients have their answers; the proxy may still be closing the last upstream ones.
    wait_until(lambda: proxy_stats(url)["in_flight"] == {}, timeout=10, what="proxy idle")
    after = proxy_stats(url)
    assert after["pid"] == before["pid"], "the proxy was restarted"
    assert after["retried"] == NO_RETRIES
    assert after["requests"] - before["requests"] == traffic.count
    return after


def pids(target: LocalTarget) -> set[int]:
    status = target.status()
    return {status["proxy"]["pid"]} | {i["pid"] for i in status["instances"] if i["running"]}


@pytest.mark.parametrize("strategy", ["blue-green", "canary", "rolling"])
def test_switch_and_rollback_lose_nothing(
    strategy: str, builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(strategy=strategy, command=GRACELESS)
    v1, v2 = builder.build("1.0.0"), builder.build("2.0.0")
    target.deploy(v1, probe)
    stats = proxy_stats(target.url)

    with Traffic(target.url).running() as traffic:
        since = time.monotonic()
        upgrade = switch(traffic, lambda: target.deploy(v2, probe))
        before_rollback = pids(target)
        back = switch(traffic, lambda: target.rollback(v1, probe))
        if strategy != "rolling":  # the previous release stayed warm
            assert pids(target) == before_rollback, "a warm rollback starts no process"

    assert [str(f) for f in traffic.failures] == []
    check_proxy(target.url, stats, traffic)
    check_switch(traffic, upgrade, "1.0.0", "2.0.0", since=since, until=back.started)
    check_switch(traffic, back, "2.0.0", "1.0.0", since=upgrade.finished)


def test_recreate_fails_only_within_its_gap(
    builder: LocalBuilder, make_target: MakeTarget, probe: Probe
) -> None:
    target = make_target(strategy="recreate", command=GRACELESS)
    target.deploy(builder.build("1.0.0"), probe)
    stats = proxy_stats(target.url)

    def in_the_gap(base_url: str) -> bool:
        """Probes a new instance once the clients have met the gap (it is not routed yet)."""
        wait_until(lambda: bool(traffic.failures), timeout=10, what="a request in the gap")
        return probe(base_url)

    with Traffic(target.url).running() as traffic:
        since = time.monotonic()
        done = switch(traffic, lambda: target.deploy(builder.build("2.0.0"), in_the_gap))

    failures = traffic.failures
    # In flight when the old release stopped: drained first, so only the gap's 503s fail.
    assert {(f.status, f.error) for f in failures} == {
        (503, "HTTP 503: releasegate: no live backend for environment staging\n")
    }
    # Only within the gap: each failed request was in flight while the deploy ran.
    assert set(failures) <= set(traffic.between(done.started, done.finished))
    assert served_between(traffic, since, done.started) == {"1.0.0"}
    assert served_between(traffic, done.finished, math.inf) == {"2.0.0"}
    after = check_proxy(target.url, stats, traffic)
    assert after["failed"] == {"no_backend": len(failures), "backend_failed": 0}
