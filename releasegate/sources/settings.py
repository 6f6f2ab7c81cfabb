"""How sources are configured (`smoke = [...]`, `incidents = {...}` of an environment).

Imported by the configuration; imports no source implementation (no httpx here).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from releasegate.duration import Duration
from releasegate.secret import EnvSecret, header_secrets
from releasegate.vocabulary import HttpUrl, RequestPath


class SmokeCheck(BaseModel):
    """One HTTP check: GET `path` answers `status`, and each `json` field equals its value.

    Values may use `{version}`, replaced by the version being deployed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    path: RequestPath
    status: int = Field(default=200, ge=100, le=599)
    json_fields: dict[str, Any] = Field(default_factory=dict, alias="json")


class IncidentCheck(BaseModel):
    """Where open incidents are listed: JSON `{"incidents": [{"name", "impact", "status"}]}`
    (a Statuspage `unresolved.json` has this shape)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: HttpUrl
    block_on: tuple[str, ...] = ("critical", "major")
    """Incident impacts that block a deploy."""
    timeout: Duration = timedelta(seconds=10)
    headers: dict[str, EnvSecret] = {}
    """Sent with each request, e.g. `{ Authorization = { env = "STATUSPAGE_TOKEN",
    prefix = "OAuth " } }`: values always come from environment variables."""

    _headers_from_env = field_validator("headers", mode="before")(header_secrets)
