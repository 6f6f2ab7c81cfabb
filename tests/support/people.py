"""The people of the demo: a developer's signed request to deploy, and reviewers who answer
a run's approval requests from a background thread (through `releasegate.review`), each
with the demo key of their name unless told otherwise.

One Prefect server may hold the runs of many apps (every flow test has its own): the
reviewers answer, and a request is made for, the app of the pinned configuration (the
newest setup's, `RELEASEGATE_CONFIG`) unless told otherwise."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Self

KEYS = Path(__file__).resolve().parents[2] / "examples" / "keys"


def pinned_app() -> str:
    """The app of the configuration flows called now read (the newest setup's)."""
    from releasegate import config

    return config.load().app.name


@dataclass
class Step:
    """One scripted decision: who, what, and optionally a forged or hand-made signature."""

    reviewer: str
    reject: bool = False
    comment: str = ""
    key: Path | None = None
    signature: Callable[[Any], tuple[str, datetime | None]] | None = None
    """Given the ApprovalRequest being answered, the signature text to submit and the
    issue time it claims."""


class _Answering:
    """Answers requests from a background thread, for one app (default: the pinned
    setup's); an error in the thread is re-raised in the test's by `_ended`."""

    app: str | None
    answered: list[Any]
    error: BaseException | None

    def start(self) -> Self:
        self.app = self.app or pinned_app()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._guarded, daemon=True)
        self._thread.start()
        return self

    def _guarded(self) -> None:
        try:
            self._answer(set())
        except BaseException as exc:  # re-raised in the test thread by _ended()
            self.error = exc

    def _answer(self, seen: set[str]) -> None:
        raise NotImplementedError

    def _ended(self, timeout: float, who: str) -> list[Any]:
        self._thread.join(timeout=timeout)
        assert not self._thread.is_alive(), f"{who} did not finish"
        if self.error:
            raise self.error
        return self.answered


@dataclass
class Reviewers(_Answering):
    """Answers a run's approval requests in order, like people at their terminals would
    (through `releasegate.review`)."""

    version: str
    steps: list[Step]
    environment: str = "production"
    app: str | None = None
    """Only this app's requests; default: the pinned setup's."""
    answered: list[Any] = field(default_factory=list)
    verdicts: list[Any] = field(default_factory=list)
    error: BaseException | None = None
    patience: float = 60
    """Seconds to wait for each request."""

    def _answer(self, seen: set[str]) -> None:
        from releasegate import review

        for step in self.steps:
            asked = review.next_request(
                self.version, self.environment, seen, timeout=self.patience, app=self.app
            )
            assert asked is not None
            seen.add(asked.pause_key)
            signature, issued_at = step.signature(asked) if step.signature else (None, None)
            _, verdict = review.decide(
                asked.flow_run_id,
                step.reviewer,
                reject=step.reject,
                comment=step.comment,
                key=step.key if step.key else KEYS / step.reviewer,
                signature=signature,
                issued_at=issued_at,
            )
            self.answered.append(asked)
            self.verdicts.append(verdict)

    def join(self) -> list[Any]:
        return self._ended(self.patience + 30, "reviewers")


def approve_all(version: str, *names: str, patience: float = 60) -> Reviewers:
    return Reviewers(version, [Step(n) for n in names], patience=patience).start()


@dataclass
class Responder(_Answering):
    """Approves every request for `version`, each with the first reviewer it names as still
    eligible, until the run ends: for tests where how many rounds a run needs is the clock's
    business (max_age), so the test asserts what must hold whatever that number is."""

    version: str
    keys: dict[str, Path] = field(default_factory=dict)
    """Signed mode: each reviewer's key (default: the demo key of that name)."""
    environment: str = "production"
    app: str | None = None
    answered: list[Any] = field(default_factory=list)
    error: BaseException | None = None

    def _answer(self, seen: set[str]) -> None:
        from releasegate import review

        while asked := review.next_request(
            self.version,
            self.environment,
            seen,
            timeout=60,
            unless=self._done.is_set,
            app=self.app,
        ):
            seen.add(asked.pause_key)
            name = asked.eligible[0]
            review.decide(asked.flow_run_id, name, key=self.keys.get(name, KEYS / name))
            self.answered.append(asked)

    def stop(self) -> list[Any]:
        """Call once the run has ended."""
        self._done.set()
        return self._ended(90, "the responder")


def proof(
    version: str, actor: str = "dave", key: Path | None = None, app: str = "", **asked: Any
) -> Any:
    """`actor`'s signed request to deploy `version` (as `releasegate deploy --sign` makes it),
    with the demo key of that name unless `key` is given, to the pinned setup's app unless
    `app` is given."""
    from releasegate.request import signed
    from releasegate.signing.trigger import Asked

    request = Asked(request="deploy", version=version, branch="main", **asked)
    return signed(request, actor, app or pinned_app(), key or KEYS / actor)
