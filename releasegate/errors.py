"""How releasegate fails: one hierarchy, each branch carrying its exit code.

Every exception releasegate raises on purpose derives from one of `ConfigError`,
`UsageError`, `Blocked` or `Failed`. The CLI catches the base class once and exits with
`exc.exit_code` after one line on stderr: no traceback for anything a user can cause.
"""

from __future__ import annotations

from typing import ClassVar


class ReleasegateError(Exception):
    """Base of every error releasegate raises on purpose."""

    exit_code: ClassVar[int] = 1


class ConfigError(ReleasegateError):
    """The configuration cannot be used. The message names file, key and reason. Exit 2."""

    exit_code = 2


class UsageError(ReleasegateError):
    """The request itself is wrong (no such environment, no earlier version). Exit 2."""

    exit_code = 2


class Blocked(ReleasegateError):
    """A gate stopped the run: freeze, branch, approval rejected or expired. Exit 3."""

    exit_code = 3


class Failed(ReleasegateError):
    """Something that should have worked did not: a target, the audit store, a source. Exit 1."""

    exit_code = 1


class DeployFailed(Failed):
    """A build, rollout, verification or rollback failed (already recorded). Exit 1."""
