"""A JSON status endpoint (Statuspage, PagerDuty, Opsgenie, anything): GET it, parse it.

What the answer means is the incident gate's business (a JMESPath expression, judged in
`releasegate.policy.gates`); this adapter only fetches, with the configured headers.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from releasegate.redaction import redact_text, redact_url
from releasegate.secret import reveal_all
from releasegate.sources.base import SourceError
from releasegate.sources.settings import IncidentCheck

MAX_BYTES = 8 * 1024 * 1024
"""A status answer is small; a server that sends more is not a status page."""


class JsonStatus:
    """An IncidentSource: the JSON document the configured URL answers with."""

    def __init__(self, check: IncidentCheck) -> None:
        self.check = check

    def read(self) -> Any:
        url, shown = self.check.url, redact_url(self.check.url)
        try:
            with httpx.stream(
                "GET",
                url,
                headers={"Accept": "application/json", **reveal_all(self.check.headers)},
                timeout=self.check.timeout.total_seconds(),
            ) as response:
                response.raise_for_status()
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise SourceError(f"{shown}: answer larger than {MAX_BYTES} bytes")
            return json.loads(bytes(body))
        except httpx.HTTPError as exc:  # its message names the URL, credentials and all
            raise SourceError(redact_text(f"{shown}: {type(exc).__name__}: {exc}")) from None
        except ValueError:  # never quote the body: a server may echo a credential back
            raise SourceError(f"{shown}: the answer is not JSON") from None
