"""Reading open incidents from a status page (an adapter for the incident gate)."""

from __future__ import annotations

import httpx
from pydantic import TypeAdapter, ValidationError

from releasegate.config import IncidentCheck
from releasegate.errors import Failed
from releasegate.policy.gates import Incident

_INCIDENTS = TypeAdapter(list[Incident])


class IncidentSourceError(Failed):
    """The incident source could not be read or understood."""


def open_incidents(check: IncidentCheck) -> list[Incident]:
    """GET the configured URL and parse its `incidents` list."""
    try:
        response = httpx.get(check.url, timeout=check.timeout.total_seconds())
        response.raise_for_status()
        return _INCIDENTS.validate_python(response.json()["incidents"])
    except httpx.HTTPError as exc:
        raise IncidentSourceError(f"{check.url}: {type(exc).__name__}: {exc}") from None
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise IncidentSourceError(f"{check.url}: not an incident list ({exc})") from None
