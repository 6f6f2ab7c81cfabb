"""How notifications are configured: `notify = [{ env = "SLACK_URL" }, ...]` per environment.

An apprise URL carries its credentials (`slack://TokenA/TokenB/TokenC`, a webhook's user
and password), so it is read from an environment variable like any credential
(`releasegate.secret.EnvSecret`): never written in the configuration, never recorded or
printed whole (it is shown through apprise's privacy mode only).
"""

from __future__ import annotations

from typing import Any

from releasegate.notifiers.base import NOTICE_KINDS, NoticeKind
from releasegate.secret import EnvSecret


class NotifyUrl(EnvSecret):
    """An apprise URL read from the environment variable `env`; `events` it is sent."""

    events: tuple[NoticeKind, ...] = NOTICE_KINDS

    def wants(self, kind: NoticeKind) -> bool:
        return kind in self.events


def urls_from_env(entries: Any) -> Any:
    """Each notify entry names an environment variable; a URL written inline is refused
    (the error never repeats it: it may hold a token)."""
    if isinstance(entries, list | tuple) and any(isinstance(e, str) for e in entries):
        raise ValueError(
            'a notification URL must name an environment variable, e.g. { env = "SLACK_URL" }: '
            "apprise URLs hold their tokens, and a value written in the configuration would be "
            "kept with it"
        )
    return entries
