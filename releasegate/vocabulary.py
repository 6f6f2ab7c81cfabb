"""The words a configuration and a request are written in, each defined and validated once.

Strategy names, target kinds, canary steps, environment names and URL rules (HTTP URLs,
the local target's loopback URL, the audit store's location). The configuration is typed
with these, so a bad value fails at load time naming the file, the key and the reason
(exit 2); targets, stores and the signed message trust what they get.

The input rules (version, branch, commit, name, reason, comment, nonce) type both the
CLI's arguments and the flows' parameters, so a served deployment refuses exactly what the
CLI refuses. Each rule is a pattern (also published in the JSON schema, so the Prefect UI
and server check it before a run is created) plus a check with a one-line message.
Pure: types and functions, no I/O.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, StringConstraints, WithJsonSchema

from releasegate.redaction import redact_url

Strategy = Literal["rolling", "blue-green", "canary", "recreate"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
TargetKind = Literal["local", "kubernetes"]
Decision = Literal["approve", "reject"]
"""A reviewer's decision: in the Resume form, the signed message and the audit record."""
ProofKind = Literal["webhook", "signed", "claimed"]
"""How a run's actor is known: a verified push delivery, an SSH-signed request, or a name
typed by whoever started the run (proves nothing)."""
OutdatedPolicy = Literal["block", "allow"]
"""Whether a run may deploy a version triggered before the one an environment runs."""

LOOPBACK = ("127.0.0.1", "localhost")
_ENVIRONMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def _canary_steps(steps: tuple[int, ...]) -> tuple[int, ...]:
    climbing = list(steps) == sorted(set(steps))
    if not steps or not climbing or not steps[0] > 0 or steps[-1] != 100:
        raise ValueError(
            "canary_steps must be strictly increasing percentages in 1..100 ending at 100, "
            f"not {list(steps)}"
        )
    return steps


def _environment_name(name: str) -> str:
    # Used as a directory name, an S3 key segment and a field of the signed message.
    if not _ENVIRONMENT_NAME.fullmatch(name):
        raise ValueError(
            f"environment name {name!r} must be 1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def http_url(url: str) -> str:
    """`url` if it is an http(s) URL with a host (and a port in 1..65535 if it names one),
    else ValueError. The port is read here so that no later reading of it (`same_place`,
    a client) can fail on it."""
    parts = urlsplit(url)
    try:
        usable_port = parts.port != 0
    except ValueError:  # not a number, or out of range
        usable_port = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not usable_port:
        raise ValueError(
            f"url {redact_url(url)!r} must be an http(s) URL (with a port in 1..65535, if any)"
        )
    return url


def base_url(url: str) -> str:
    """`url` if requests can be made relative to it: http(s), no query, no fragment."""
    parts = urlsplit(http_url(url))
    if parts.query or parts.fragment:
        raise ValueError(
            f"url {redact_url(url)!r} is a base URL: it takes no query or fragment (send "
            "credentials as headers read from environment variables)"
        )
    return url


def loopback_url(url: str) -> str:
    """`url` if the local target can serve it: plain http on a loopback host and port."""
    parts = urlsplit(url)
    if (
        parts.scheme != "http"
        or parts.hostname not in LOOPBACK
        or not parts.port
        or parts.path not in ("", "/")
    ):
        raise ValueError(
            "the local target serves on 127.0.0.1 only: url must be "
            f"http://127.0.0.1:<port> (or localhost), not {redact_url(url)!r}"
        )
    return url


def same_place(url: str) -> str:
    """What `url` points at, so two spellings of one place compare equal: scheme, host
    (lower case; `localhost` is 127.0.0.1), port (default filled in) and path."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = "127.0.0.1" if host in LOOPBACK else host
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{host}:{port}{parts.path.rstrip('/')}"


def audit_location(spec: str) -> str:
    """`spec` if it names an audit store: a directory, or `s3://bucket[/prefix]`."""
    parts = urlsplit(spec)
    if parts.scheme == "s3" and not parts.netloc:
        raise ValueError(f"{redact_url(spec)!r} names no bucket (expected s3://bucket/prefix)")
    if parts.scheme not in ("", "s3"):
        raise ValueError(f"{redact_url(spec)!r} is neither a directory nor s3://bucket/prefix")
    return spec


RequestPath = Annotated[str, StringConstraints(pattern=r"^/")]
"""A path requested of an environment's URL (a smoke check, the health check). Starting
with '/' keeps the request on that host: appended to `http://127.0.0.1:8000`,
`@elsewhere/` would name another one."""
CanarySteps = Annotated[tuple[int, ...], AfterValidator(_canary_steps)]
"""Percentages of traffic, strictly increasing within 1..100, ending at 100."""
EnvironmentName = Annotated[str, AfterValidator(_environment_name)]
HttpUrl = Annotated[str, AfterValidator(http_url)]
BaseUrl = Annotated[str, AfterValidator(base_url)]
"""A URL that paths are appended to (an environment's URL)."""
AuditLocation = Annotated[str, AfterValidator(audit_location)]


def _shown(text: str) -> str:
    """A value as one bounded line, for an error message."""
    if len(text) <= 40:
        return repr(text)
    return f"{text[:32]!r}... ({len(text)} characters)"


class Rule:
    """One input rule: a pattern with words for people. `check` returns the value or raises
    ValueError naming the rule; `schema` publishes the pattern (Prefect's UI and server
    check it before a run is created; `check` is what finally decides)."""

    def __init__(self, what: str, pattern: str, words: str) -> None:
        self.what, self.regex, self.words = what, re.compile(pattern), words
        self.schema = WithJsonSchema({"type": "string", "pattern": f"^{pattern}$"})

    def check(self, text: str) -> str:
        if not self.regex.fullmatch(text):
            raise ValueError(f"{_shown(text)} breaks the {self.what} rule: {self.words}")
        return text


# Control characters (C0, DEL, C1), line/paragraph separators and bidi controls: text that
# changes what a terminal or a reviewer sees (the signed message's escaped set).
_INVISIBLE = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff"

VERSION_RULE = Rule(
    "version",
    r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}",
    "1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-' (a container image tag)",
)
BRANCH_RULE = Rule(
    "branch",
    r"(?!.*\.\.)(?!.*//)[A-Za-z0-9_][A-Za-z0-9._/+-]{0,199}(?<![./])",
    "1-200 letters, digits, '_', '.', '/', '+' or '-', starting with a letter, digit or "
    "'_', without '..' or '//', not ending in '/' or '.'",
)
COMMIT_RULE = Rule(
    "commit",
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
    "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit (a commit id)",
)
NAME_RULE = Rule(
    "name",
    r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}",
    "1-128 letters, digits, '.', '_', '@', '+' or '-', starting with a letter or digit "
    "(as in allowed_signers)",
)
REASON_RULE = Rule(
    "reason",
    rf"(?=.*\S)[^{_INVISIBLE}]{{1,500}}",
    "1-500 characters, not all blank, without control characters (newlines included) "
    "or bidi controls",
)
COMMENT_RULE = Rule(
    "comment",
    rf"[^{_INVISIBLE}]{{0,1000}}",
    "0-1000 characters without control characters (newlines included) or bidi controls",
)
NONCE_RULE = Rule(
    "nonce", r"[A-Za-z0-9_-]{16,128}", "16-128 letters, digits, '_' or '-' (random, unique)"
)

# Each rule as a type: pydantic runs `check` (flow parameters, the CLI, the configuration).
Version = Annotated[str, AfterValidator(VERSION_RULE.check), VERSION_RULE.schema]
"""A version label: the container-tag rule, so the same label tags an image."""
Branch = Annotated[str, AfterValidator(BRANCH_RULE.check), BRANCH_RULE.schema]
Commit = Annotated[str, AfterValidator(COMMIT_RULE.check), COMMIT_RULE.schema]
Name = Annotated[str, AfterValidator(NAME_RULE.check), NAME_RULE.schema]
"""A person: an actor, a reviewer, a group member; a principal in allowed_signers."""
Reason = Annotated[str, AfterValidator(REASON_RULE.check), REASON_RULE.schema]
Comment = Annotated[str, AfterValidator(COMMENT_RULE.check), COMMENT_RULE.schema]
Nonce = Annotated[str, AfterValidator(NONCE_RULE.check), NONCE_RULE.schema]
