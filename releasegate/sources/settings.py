"""How sources are configured (`smoke = [...]`, `incidents = {...}` of an environment).

Imported by the configuration; imports no source implementation (no httpx here).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
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
    """Any JSON status endpoint, judged by a JMESPath expression that must hold for deploys to
    pass (`holds`); `show` names what blocks. Without `holds`, the answer is read as a
    Statuspage `unresolved.json` (`{"incidents": [{"name", "impact", "status"}]}`) and an
    incident whose impact is in `block_on` blocks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: HttpUrl
    holds: str | None = None
    """JMESPath over the answer, true when deploying is safe, e.g.
    ``"length(incidents[?urgency=='high']) == `0`"``."""
    show: str | None = None
    """JMESPath over the answer naming what blocks (a list or a value), for the message."""
    block_on: tuple[str, ...] = ("critical", "major")
    """Without `holds`: the Statuspage incident impacts that block a deploy."""
    unreadable: Literal["block", "pass"] = "block"
    """An answer that cannot be read or judged blocks (fails closed) unless "pass"."""
    timeout: Duration = timedelta(seconds=10)
    headers: dict[str, EnvSecret] = {}
    """Sent with each request, e.g. `{ Authorization = { env = "STATUSPAGE_TOKEN",
    prefix = "OAuth " } }`: values always come from environment variables."""

    _headers_from_env = field_validator("headers", mode="before")(header_secrets)

    @field_validator("holds", "show")
    @classmethod
    def _compiles(cls, expression: str | None) -> str | None:
        if expression is not None:
            try:
                jmespath.compile(expression)
            except JMESPathError as exc:
                raise ValueError(f"not a JMESPath expression: {str(exc).splitlines()[0]}") from None
        return expression

    def condition(self) -> str:
        """The expression that must hold: `holds`, or the Statuspage reading of `block_on`."""
        return self.holds or f"length({self._blocking()}) == `0`"

    def naming(self) -> str | None:
        """The expression naming what blocks: `show`, or the Statuspage incidents' names."""
        return self.show if self.holds else f"{self._blocking()}.name"

    def _blocking(self) -> str:
        return f"incidents[?contains(`{json.dumps(list(self.block_on))}`, impact)]"
