"""The people of the demo: a developer's signed request to deploy, and reviewers who answer
a run's approval requests from a background thread (through `releasegate.review`), each
with the demo key of their name unless told otherwise."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KEYS = Path(__file__).resolve().parents[2] / "examples" / "keys"


@dataclass
class Step:
    """One scripted decision: who, what, and optionally a forged or hand-made signature."""

    reviewer: str
    reject: bool = False
    comment: str = ""
    key: Path | None = None
    signature: Callable[[Any], str] | None = None
    """Given the ApprovalRequest being answered, the signature text to submit."""


@dataclass
class Reviewers:
    """Answers a run's approval requests in order, from a background thread, like people
    at their terminals would (through `releasegate.review`)."""

    version: str
    steps: list[Step]
    environment: str = "production"
    answered: list[Any] = field(default_factory=list)
    verdicts: list[Any] = field(default_factory=list)
    error: BaseException | None = None
    patience: float = 60
    """Seconds to wait for each request."""

    def start(self) -> Reviewers:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        from releasegate import review

        seen: set[str] = set()
        try:
            for step in self.steps:
                asked = review.next_request(
                    self.version, self.environment, seen, timeout=self.patience
                )
                assert asked is not None
                seen.add(asked.pause_key)
                _, verdict = review.decide(
                    asked.flow_run_id,
                    step.reviewer,
                    reject=step.reject,
                    comment=step.comment,
                    key=step.key if step.key else KEYS / step.reviewer,
                    signature=step.signature(asked) if step.signature else None,
                )
                self.answered.append(asked)
                self.verdicts.append(verdict)
        except BaseException as exc:  # re-raised in the test thread by join()
            self.error = exc

    def join(self) -> list[Any]:
        self._thread.join(timeout=self.patience + 30)
        assert not self._thread.is_alive(), "reviewers did not finish"
        if self.error:
            raise self.error
        return self.answered


def approve_all(version: str, *names: str, patience: float = 60) -> Reviewers:
    return Reviewers(version, [Step(n) for n in names], patience=patience).start()


def proof(
    version: str, actor: str = "dave", key: Path | None = None, app: str = "webapp", **asked: Any
) -> Any:
    """`actor`'s signed request to deploy `version` (as `releasegate deploy --sign` makes it),
    with the demo key of that name unless `key` is given."""
    from releasegate.request import signed
    from releasegate.signing.trigger import Asked

    request = Asked(request="deploy", version=version, branch="main", **asked)
    return signed(request, actor, app, key or KEYS / actor)
