"""Credentials never shown: the one place that takes them out of URLs and text.

Everything that records, logs, publishes or prints something that may hold a configured URL
goes through here: audit records, Prefect logs, artifacts, CLI output, smoke reports, gate
results and error messages (httpx puts the URL in its own).

- A URL keeps its scheme, host, port, path and query parameter *names*; its user info
  (`user:password@`) and every query and fragment *value* become `***`. Which parameters
  are credentials cannot be told (`api_key`, `sig`, `code`, `t`...), so none is shown.
- A secret in a URL *path* (a webhook token) cannot be told from a path: put credentials in
  headers read from environment variables (`releasegate.secret.EnvSecret`) instead.
- Values of those credentials are remembered when they are read, and any text that
  contains one has it replaced too (a server may echo a header back in an error).

Pure: the standard library only.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
MIN_REMEMBERED = 6
"""Shorter values are not searched for in text: they would mask ordinary words."""

# A match may start only where a run of scheme characters starts (`lead` takes the digits,
# '+', '.' or '-' before its first letter): tried at every letter of a long word instead,
# the search was quadratic (100 KB of letters without a URL took 23 s, and every log line
# and audit record passes here).
_URL = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<lead>[0-9+.-]*)(?P<url>[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+)"
)
_KNOWN: set[str] = set()


def remember(secret: str) -> None:
    """Mask `secret` wherever it appears in text from now on (this process)."""
    if len(secret) >= MIN_REMEMBERED:
        _KNOWN.add(secret)


def redact_url(url: str) -> str:
    """`url` without credentials: user info and query/fragment values are masked."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not parseable (a bad IPv6 literal): show nothing of it
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    redacted = urlunsplit(
        (parts.scheme, netloc, parts.path, _mask_values(parts.query), _mask_values(parts.fragment))
    )
    return _mask_known(redacted)


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted and every remembered secret masked."""
    return _mask_known(_URL.sub(lambda found: found["lead"] + redact_url(found["url"]), text))


def redact_data(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings...) with every string redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    return value


def _mask_values(pairs: str) -> str:
    if not pairs:
        return pairs
    return "&".join(
        f"{part.split('=', 1)[0]}={MASK}" if "=" in part else MASK for part in pairs.split("&")
    )


def _mask_known(text: str) -> str:
    # Longest first: a secret that contains another is masked whole.
    for secret in sorted(_KNOWN, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
