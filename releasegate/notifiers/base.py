"""What a notifier sends and the interface it implements. Pure: no I/O here."""

from __future__ import annotations

from typing import Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict

from releasegate.errors import Failed

NoticeKind = Literal[
    "approval-requested", "deployed", "failed", "rolled-back", "blocked", "quarantined",
    "overridden", "drift",
]  # fmt: skip
NOTICE_KINDS: tuple[NoticeKind, ...] = get_args(NoticeKind)


class Notice(BaseModel):
    """One event people should hear about: what happened, where, and a link to the run."""

    model_config = ConfigDict(frozen=True)

    kind: NoticeKind
    app: str
    environment: str
    title: str
    body: str
    link: str | None = None
    """The flow run in the Prefect UI (for an approval request: the paused run)."""
    level: Literal["info", "success", "warning", "failure"] = "info"

    def text(self) -> str:
        """The body with the link, as markdown."""
        return f"{self.body}\n\n[Open the run]({self.link})" if self.link else self.body


class NotifyError(Failed):
    """Some destinations did not get a notice; the message names them (privately)."""


class Notifier(Protocol):
    """Where an environment's notices go."""

    def send(self, notice: Notice) -> None:
        """Deliver `notice` to every destination that wants its kind; NotifyError naming
        those that failed (shown without their credentials)."""
        ...
