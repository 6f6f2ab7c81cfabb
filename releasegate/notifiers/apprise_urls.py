"""Notifications through apprise (installed with Prefect): any apprise URL — Slack, Teams,
email, a JSON webhook — per environment.

Delivery is bounded: each notice gets `timeout` seconds in all, in a background thread,
after which it is reported as not delivered and the run moves on (a stuck mail server never
holds a deploy). apprise's own log lines are silenced: they name the URL, whose path may
hold a token; failures are reported here, each destination shown through apprise's privacy
mode (`url(privacy=True)`: `slack://T...2/A...D/T...Q/`, `json://user:****@host/path`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import apprise

from releasegate.notifiers.base import Notice, NotifyError
from releasegate.notifiers.settings import NotifyUrl

_LEVELS = {
    "info": apprise.NotifyType.INFO,
    "success": apprise.NotifyType.SUCCESS,
    "warning": apprise.NotifyType.WARNING,
    "failure": apprise.NotifyType.FAILURE,
}
logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)


class AppriseNotifier:
    """A Notifier: each notice to every configured URL that wants its kind."""

    def __init__(self, urls: Sequence[NotifyUrl], *, timeout: float = 10.0) -> None:
        self.urls = tuple(urls)
        self.timeout = timeout

    def send(self, notice: Notice) -> None:
        failed: list[str] = []
        for target in (u for u in self.urls if u.wants(notice.kind)):
            if (why := self._deliver(target, notice)) is not None:
                failed.append(why)
        if failed:
            raise NotifyError(f"{notice.kind} notice not delivered to: {'; '.join(failed)}")

    def _deliver(self, target: NotifyUrl, notice: Notice) -> str | None:
        """None when delivered, else which destination failed and how."""
        destination = apprise.Apprise()
        if not destination.add(target.reveal()):
            return f"${target.env} (not an apprise URL apprise can use)"
        shown = shown_url(destination)
        outcome: list[bool] = []

        def attempt() -> None:
            outcome.append(
                bool(
                    destination.notify(
                        title=notice.title,
                        body=notice.text(),
                        body_format=apprise.NotifyFormat.MARKDOWN,
                        notify_type=_LEVELS[notice.level],
                    )
                )
            )

        worker = threading.Thread(target=attempt, name="releasegate-notify", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            return f"{shown} (no answer within {self.timeout:g} s)"
        return None if outcome == [True] else f"{shown} (refused or unreachable)"


def shown_url(destination: apprise.Apprise) -> str:
    """The destination as apprise shows it in privacy mode, without its query options."""
    return str(destination[0].url(privacy=True)).split("?", 1)[0]
