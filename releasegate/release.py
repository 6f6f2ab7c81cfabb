"""A Release: one immutable, content-addressed build of the app at a version."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Release(BaseModel):
    """What gets deployed. The digest, never the version label, identifies it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app: str
    version: str
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    artifact: str
    """Where the target finds it: a bundle directory (local) or `image@sha256:...` (kubernetes)."""
    built_at: datetime
    commit: str | None = None
    branch: str | None = None
