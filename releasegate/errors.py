"""How a run ends when it does not succeed. The CLI maps each to its exit code."""

from __future__ import annotations


class Blocked(RuntimeError):
    """A gate stopped the run: freeze, branch, approval rejected or expired. Exit code 3."""


class DeployFailed(RuntimeError):
    """A build, rollout, verification or rollback failed. Exit code 1."""


class UsageError(ValueError):
    """The request itself is wrong (no such environment, no earlier version). Exit code 2."""
