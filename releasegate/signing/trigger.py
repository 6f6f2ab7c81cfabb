"""What an actor signs to prove they asked for a run: the canonical message of one deploy or
rollback request. Pure: no I/O.

Signed in its own namespace, `releasegate-trigger` (not `releasegate`, the approvals'): a
signature made for one purpose is refused for the other (`wrong-namespace`), and an
allowed_signers entry can grant either or both (`namespaces="releasegate,releasegate-trigger"`).

Canonical message, version 1 (UTF-8, `\\n` line ends, a final `\\n`, nothing else)::

    releasegate-trigger-v1
    request: deploy
    actor: dave
    app: webapp
    environment:
    version: 1.4.2
    branch: main
    commit: 9fceb02
    reason:
    issued-at: 2026-05-04T09:30:00Z
    nonce: 4f2c...

- Fields appear exactly once, in this order; an empty one is `key:`. A deploy names no
  environment (it goes through every one, in order) and no reason; a rollback names its
  environment, its target as `version` (empty: the previous good version) and its reason,
  escaped as an approval's comment is (`payload.escape`).
- `issued-at` (UTC, whole seconds) and `nonce` make every request unique and short-lived:
  the flow refuses a request older than `policy.triggers.MAX_AGE`, and one whose nonce a
  run has already used (it looks in the audit store).
- Changing this format invalidates every stored signature: add `-v2` instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from releasegate.signing.payload import escape, utc_seconds
from releasegate.vocabulary import Branch, Commit, EnvironmentName, Name, Nonce, Reason, Version

TRIGGER_NAMESPACE = "releasegate-trigger"
MESSAGE_HEADER = "releasegate-trigger-v1"
Request = Literal["deploy", "rollback", "promote", "reconcile"]


class Asked(BaseModel):
    """What a run is asked to do, from its own parameters: what a request names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: Request
    environment: EnvironmentName | None = None
    version: Version | None = None
    branch: Branch | None = None
    commit: Commit | None = None
    reason: Reason | None = None

    def payload(self, actor: str, app: str, issued_at: datetime, nonce: str) -> TriggerPayload:
        """The message `actor` signs (or signed) for this request to `app`."""
        return TriggerPayload(
            **self.model_dump(), actor=actor, app=app, issued_at=issued_at, nonce=nonce
        )


class TriggerPayload(Asked):
    """Exactly what an actor's request signature covers (see the module docstring)."""

    actor: Name
    app: str
    issued_at: AwareDatetime
    nonce: Nonce

    def lines(self) -> list[str]:
        """The message's lines, header first, without line ends."""
        fields = [
            ("request", self.request),
            ("actor", self.actor),
            ("app", self.app),
            ("environment", self.environment or ""),
            ("version", self.version or ""),
            ("branch", self.branch or ""),
            ("commit", self.commit or ""),
            ("reason", escape(self.reason or "")),
            ("issued-at", utc_seconds(self.issued_at)),
            ("nonce", self.nonce),
        ]
        return [MESSAGE_HEADER] + [f"{k}: {v}" if v else f"{k}:" for k, v in fields]

    def message(self) -> bytes:
        """The canonical bytes that get signed."""
        return ("\n".join(self.lines()) + "\n").encode("utf-8")
