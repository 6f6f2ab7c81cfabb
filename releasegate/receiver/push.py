"""What a GitHub push delivery asks for, once its signature has verified. Pure: no I/O.

Only a few fields of GitHub's push payload are read: `ref`, `after` (the pushed commit),
`deleted`, `pusher.name` (who pushed: GitHub's login of the account that pushed) and
`repository.full_name`. The rest is ignored.

- **Version rule**: the first 12 hex digits of the pushed commit (`after`), as `git
  rev-parse --short=12` prints it; the full commit id is recorded as `commit`.
- **Acted on**: a push to a branch listed in `[webhook] branches` (default `main`) of the
  configured `repository` (if one is configured). Tags, branch deletions, other branches and
  other repositories are acknowledged and ignored (`Ignored`, answered 202).
- **Refused** (`Malformed`, answered 400/422): a body that is not a push payload, a commit id
  that is not 40 or 64 hex digits, a pusher whose name breaks the name rule.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from releasegate.config import Webhook
from releasegate.errors import UsageError
from releasegate.vocabulary import NAME_RULE

BRANCH_PREFIX = "refs/heads/"
VERSION_DIGITS = 12
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_NO_COMMIT = re.compile(r"0+")


class Malformed(UsageError):
    """A delivery that is not a push releasegate can read; the message is safe to answer
    with (it never repeats more than a bounded piece of the input). `status`: the HTTP
    answer's."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Ignored(BaseModel):
    """A push acknowledged and not acted on, and why."""

    model_config = ConfigDict(frozen=True)

    reason: str


class Push(BaseModel):
    """A push to act on: deploy `version` (from `commit`) of `branch`, pushed by `pusher`."""

    model_config = ConfigDict(frozen=True)

    version: str
    branch: str
    commit: str
    pusher: str
    repository: str


def read(body: bytes, settings: Webhook) -> Push | Ignored:
    """The push in `body` (GitHub's JSON push payload), or why it is ignored.

    Raises Malformed for a body that is not a push payload releasegate can act on.
    """
    payload = _object(body)
    ref = _text(payload, "ref")
    repository = _text(_field(payload, "repository", dict), "full_name")
    if settings.repository is not None and repository.lower() != settings.repository.lower():
        return Ignored(reason=f"a push to {_shown(repository)}, not {settings.repository}")
    if not ref.startswith(BRANCH_PREFIX):
        return Ignored(reason=f"{_shown(ref)} is not a branch")
    branch = ref.removeprefix(BRANCH_PREFIX)
    if branch not in settings.branches:
        return Ignored(reason=f"branch {_shown(branch)} is not one of {list(settings.branches)}")
    after = _text(payload, "after")
    if _field(payload, "deleted", bool, default=False) or _NO_COMMIT.fullmatch(after):
        return Ignored(reason=f"branch {branch} was deleted")
    if not _COMMIT.fullmatch(after):
        raise Malformed(f"after: {_shown(after)} is not a commit id (40 or 64 hex digits)")
    pusher = _text(_field(payload, "pusher", dict), "name")
    try:
        NAME_RULE.check(pusher)
    except ValueError as exc:
        raise Malformed(f"pusher.name: {exc}", status=422) from None
    return Push(
        version=after[:VERSION_DIGITS],
        branch=branch,
        commit=after,
        pusher=pusher,
        repository=repository,
    )


def _object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Malformed("the body is not JSON (UTF-8)") from None
    if not isinstance(payload, dict):
        raise Malformed("the body is not a JSON object")
    return payload


def _field(payload: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = payload.get(key, default)
    if not isinstance(value, kind):
        raise Malformed(f"{key}: missing or not a {kind.__name__}")
    return value


def _text(payload: dict[str, Any], key: str) -> str:
    value: str = _field(payload, key, str)
    return value


def _shown(text: str) -> str:
    """A value as one bounded, printable piece of an answer."""
    short = text if len(text) <= 60 else text[:57] + "..."
    return repr(short.encode("ascii", "backslashreplace").decode())
