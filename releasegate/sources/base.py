"""The interfaces sources implement and the data they hand back. Pure: no I/O here."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from releasegate.errors import Failed


class SourceError(Failed):
    """A source could not be read or understood; the message says which and why."""


class IncidentSource(Protocol):
    """Where the state of incidents is published, as JSON."""

    def read(self) -> Any:
        """The endpoint's JSON answer, parsed; SourceError if it cannot be had."""
        ...


class CheckResult(BaseModel):
    """One smoke check's last outcome."""

    model_config = ConfigDict(frozen=True)

    url: str
    expected: str
    observed: str
    passed: bool
    attempts: int


class SmokeReport(BaseModel):
    """All smoke checks against one URL for one version."""

    model_config = ConfigDict(frozen=True)

    url: str
    version: str
    results: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def failures(self) -> str:
        return "; ".join(
            f"{r.url}: expected {r.expected}, got {r.observed}"
            for r in self.results
            if not r.passed
        )


class SmokeRunner(Protocol):
    """An environment's smoke checks, ready to run against any base URL."""

    def check(self, base_url: str, version: str) -> SmokeReport:
        """Run every check against `base_url` for `version` (the live URL or a candidate's)."""
        ...
