"""Open incidents read from a status page (Statuspage's `unresolved.json` shape)."""

from __future__ import annotations

import httpx
from pydantic import TypeAdapter, ValidationError

from releasegate.redaction import redact_text, redact_url
from releasegate.secret import reveal_all
from releasegate.sources.base import Incident, SourceError
from releasegate.sources.settings import IncidentCheck

_INCIDENTS = TypeAdapter(list[Incident])


class StatusPage:
    """An IncidentSource: GET the configured URL and parse its `incidents` list."""

    def __init__(self, check: IncidentCheck) -> None:
        self.check = check

    def open_incidents(self) -> list[Incident]:
        url, shown = self.check.url, redact_url(self.check.url)
        try:
            response = httpx.get(
                url,
                headers=reveal_all(self.check.headers),
                timeout=self.check.timeout.total_seconds(),
            )
            response.raise_for_status()
            return _INCIDENTS.validate_python(response.json()["incidents"])
        except httpx.HTTPError as exc:  # its message names the URL, credentials and all
            raise SourceError(redact_text(f"{shown}: {type(exc).__name__}: {exc}")) from None
        except ValidationError as exc:
            raise SourceError(f"{shown}: not an incident list ({_where(exc)})") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(redact_text(f"{shown}: not an incident list ({exc})")) from None


def _where(exc: ValidationError) -> str:
    """What is wrong with the answer, without quoting it: pydantic's own message quotes the
    input, shortened in the middle, which would defeat masking a secret echoed back whole."""
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )
