"""Open incidents read from a status page (Statuspage's `unresolved.json` shape)."""

from __future__ import annotations

import httpx
from pydantic import TypeAdapter, ValidationError

from releasegate.sources.base import Incident, SourceError
from releasegate.sources.settings import IncidentCheck

_INCIDENTS = TypeAdapter(list[Incident])


class StatusPage:
    """An IncidentSource: GET the configured URL and parse its `incidents` list."""

    def __init__(self, check: IncidentCheck) -> None:
        self.check = check

    def open_incidents(self) -> list[Incident]:
        url = self.check.url
        try:
            response = httpx.get(url, timeout=self.check.timeout.total_seconds())
            response.raise_for_status()
            return _INCIDENTS.validate_python(response.json()["incidents"])
        except httpx.HTTPError as exc:
            raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from None
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise SourceError(f"{url}: not an incident list ({exc})") from None
