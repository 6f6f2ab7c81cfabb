"""The Target interface: where releases run. One implementation per platform."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from releasegate.errors import Failed
from releasegate.release import Release

Probe = Callable[[str], bool]
"""Given the base URL of a candidate (not yet live) instance, True when it is fit for traffic.

Targets call it before they move traffic: blue-green on the new colour, canary between steps.
"""


class TargetError(Failed):
    """A deployment could not be done; the message says what and why, for a human."""


class Deployed(BaseModel):
    """What an environment serves now, as the target sees it."""

    model_config = ConfigDict(frozen=True)

    version: str
    digest: str
    detail: dict[str, Any] = {}


class Target(Protocol):
    """One environment's runtime. Strategies live behind `deploy`."""

    def current(self) -> Deployed | None:
        """The release serving traffic now, or None if nothing is deployed."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """The state before a change, JSON-serialisable, for the audit record."""
        ...

    def deploy(self, release: Release, probe: Probe) -> None:
        """Roll `release` out with the environment's strategy; raise TargetError on failure.

        On failure the previous release must still be serving (except `recreate`).
        """
        ...

    def rollback(self, release: Release, probe: Probe) -> None:
        """Make `release` live again; a switch when it is still warm, else a deploy."""
        ...


class Builder(Protocol):
    """Turns the app at a version into a Release (a bundle, or an image resolved to its digest)."""

    def build(
        self, version: str, *, commit: str | None = None, branch: str | None = None
    ) -> Release:
        """Build or resolve the artifact; TargetError if it cannot exist (e.g. a missing tag)."""
        ...
