"""Continuous HTTP load against an environment's URL, every response checked.

Three kinds of request, each sent by keep-alive clients of its own (`KINDS`):
- quick: `GET /version`;
- slow: `GET /slow?ms=N`, so that requests are in flight whenever traffic moves;
- post: `POST /echo` with a body of its own, a request the proxy may not resend once sent.

A request counts as served only if it answers 200 with the version that served it, and a
slow one slept what it was asked to, and a POST's body came back intact. Anything else is a
failure, kept with its kind, its times and what went wrong.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from releasegate.processes import wait_until

MAX_SECONDS = 60.0
MAX_REQUESTS = 50_000
KINDS = ("quick", "slow", "post")
SLOW_MS = 300
MAX_BODY = 16 * 1024
# Text with multi-byte characters: a body cut or re-encoded on the way would not match.
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 äöü€✓\n"


class WrongAnswer(Exception):
    """The response was not what the request asked for."""

    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message)
        self.status = response.status_code


@dataclass(frozen=True)
class Outcome:
    """One request: its kind, when it started and finished (time.monotonic()), who served it."""

    kind: str
    started: float
    finished: float
    version: str | None
    """The version that served it; None if the request failed."""
    error: str | None = None
    status: int | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.error}"


class Traffic:
    """Clients requesting `url` in a loop, bounded in time and count.

    `clients` keep-alive clients send quick GETs, as many send POSTs, and twice as many send
    slow GETs (they mostly wait, and several must be in flight at any moment).
    """

    def __init__(
        self,
        url: str,
        clients: int = 2,
        max_seconds: float = MAX_SECONDS,
        *,
        kinds: Sequence[str] = KINDS,
        slow_ms: int = SLOW_MS,
    ) -> None:
        self.url = url
        self.max_seconds = max_seconds
        self.kinds = tuple(kinds)
        self.slow_ms = slow_ms
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(kind, n), daemon=True)
            for kind in self.kinds
            for n in range(clients * (2 if kind == "slow" else 1))
        ]

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.outcomes)

    @property
    def versions(self) -> list[str]:
        """The version that served each request that succeeded, in the order they finished."""
        with self._lock:
            return [o.version for o in self.outcomes if o.version is not None]

    @property
    def failures(self) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.version is None]

    def done(self, kind: str) -> int:
        """How many requests of `kind` finished (served or failed)."""
        with self._lock:
            return sum(o.kind == kind for o in self.outcomes)

    def more(self, n: int, timeout: float = 30.0) -> None:
        """Wait until `n` more requests of every kind have finished."""
        goals = {kind: self.done(kind) + n for kind in self.kinds}
        wait_until(
            lambda: all(self.done(kind) >= goal for kind, goal in goals.items()),
            timeout=timeout,
            what=f"{n} more requests of each kind ({', '.join(self.kinds)})",
        )

    def between(self, start: float, end: float) -> list[Outcome]:
        """The requests in flight at some moment from `start` to `end` (time.monotonic())."""
        with self._lock:
            return [o for o in self.outcomes if o.started < end and o.finished > start]

    def started_after(self, moment: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.started > moment]

    @contextmanager
    def running(self) -> Iterator[Traffic]:
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(timeout=15)

    def _run(self, kind: str, number: int) -> None:
        deadline = time.monotonic() + self.max_seconds
        rng = random.Random(f"{kind}-{number}")
        # A keep-alive client, as most are: the proxy must not break pooled connections.
        with httpx.Client(base_url=self.url, timeout=10.0, trust_env=False) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                if self.count >= MAX_REQUESTS:
                    return
                started = time.monotonic()
                try:
                    version, error, status = self._ask(client, kind, rng), None, 200
                except WrongAnswer as exc:
                    version, error, status = None, str(exc), exc.status
                except httpx.HTTPError as exc:
                    version, error, status = None, repr(exc), None
                outcome = Outcome(kind, started, time.monotonic(), version, error, status)
                with self._lock:
                    self.outcomes.append(outcome)

    def _ask(self, client: httpx.Client, kind: str, rng: random.Random) -> str:
        """Send one request of `kind`: the version that served it, or WrongAnswer."""
        expected: dict[str, object] = {}
        if kind == "quick":
            response = client.get("/version")
        elif kind == "slow":
            response = client.get("/slow", params={"ms": self.slow_ms})
            expected["slept_ms"] = self.slow_ms
        else:
            body = "".join(rng.choices(ALPHABET, k=rng.randint(0, MAX_BODY // 4)))
            response = client.post("/echo", content=body.encode())
            expected["body"] = body
        return served_by(response, expected)


def served_by(response: httpx.Response, expected: dict[str, object]) -> str:
    """The version named by a 200 `response` whose JSON holds `expected`; else WrongAnswer."""
    if response.status_code != 200:
        raise WrongAnswer(f"HTTP {response.status_code}: {response.text[:200]}", response)
    try:
        payload = response.json()
        version = str(payload["version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WrongAnswer(f"names no version: {response.text[:200]!r}", response) from exc
    for key, value in expected.items():
        if payload.get(key) != value:
            got = repr(payload.get(key))[:100]
            raise WrongAnswer(f"{key} is not what was sent/asked: {got}", response)
    return version
