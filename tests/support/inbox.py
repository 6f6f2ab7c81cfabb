"""A real HTTP endpoint on 127.0.0.1 that receives notifications (apprise's `json://`
POSTs), for tests: what arrived, and a wait with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.support.jsonhttp import Authorise, JsonServer


class Inbox(JsonServer):
    """Keeps the JSON bodies POSTed to it (with `authorise`, only those it accepts; the
    others are answered 401, a failed delivery to the sender)."""

    def __init__(self, authorise: Authorise | None = None) -> None:
        super().__init__(lambda path: (200, {}), authorise)

    def titles(self) -> list[str]:
        return [str(m.get("title", "")) for m in list(self.posted)]

    def wait_for(
        self, found: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        """The first message `found` accepts, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            match = next((m for m in list(self.posted) if found(m)), None)
            if match is not None:
                return match
            assert time.monotonic() < deadline, f"no such notification; got {self.titles()}"
            time.sleep(0.05)
