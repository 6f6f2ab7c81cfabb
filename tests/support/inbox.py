"""A real HTTP endpoint on 127.0.0.1 that receives notifications (apprise's `json://`
POSTs), for tests: what arrived, and a wait with a deadline."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.support.jsonhttp import Loopback, Quiet


class Inbox(Loopback):
    """Collects the JSON bodies POSTed to it (with their Authorization header)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        inbox = self

        class Handler(Quiet):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with inbox._lock:
                    inbox.received.append(
                        {
                            **json.loads(body),
                            "_path": self.path,
                            "_auth": self.headers.get("Authorization"),
                        }
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)

    def titles(self) -> list[str]:
        with self._lock:
            return [str(m.get("title", "")) for m in self.received]

    def wait_for(
        self, found: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        """The first message `found` accepts, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                match = next((m for m in self.received if found(m)), None)
            if match is not None:
                return match
            assert time.monotonic() < deadline, f"no such notification; got {self.titles()}"
            time.sleep(0.05)
