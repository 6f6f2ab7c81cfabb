"""The words a configuration is written in, each defined and validated once.

Strategy names, target kinds, canary steps, environment names and URL rules (HTTP URLs,
the local target's loopback URL, the audit store's location). The configuration is typed
with these, so a bad value fails at load time naming the file, the key and the reason
(exit 2); targets, stores and the signed message trust what they get.
Pure: types and functions, no I/O.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator

Strategy = Literal["rolling", "blue-green", "canary", "recreate"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
TargetKind = Literal["local", "kubernetes"]
Decision = Literal["approve", "reject"]
"""A reviewer's decision: in the Resume form, the signed message and the audit record."""

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
    """`url` if it is an http(s) URL with a host, else ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url {url!r} must be an http(s) URL")
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
            f"http://127.0.0.1:<port> (or localhost), not {url!r}"
        )
    return url


def audit_location(spec: str) -> str:
    """`spec` if it names an audit store: a directory, or `s3://bucket[/prefix]`."""
    parts = urlsplit(spec)
    if parts.scheme == "s3" and not parts.netloc:
        raise ValueError(f"{spec!r} names no bucket (expected s3://bucket/prefix)")
    if parts.scheme not in ("", "s3"):
        raise ValueError(f"{spec!r} is neither a directory nor s3://bucket/prefix")
    return spec


CanarySteps = Annotated[tuple[int, ...], AfterValidator(_canary_steps)]
"""Percentages of traffic, strictly increasing within 1..100, ending at 100."""
EnvironmentName = Annotated[str, AfterValidator(_environment_name)]
HttpUrl = Annotated[str, AfterValidator(http_url)]
AuditLocation = Annotated[str, AfterValidator(audit_location)]
