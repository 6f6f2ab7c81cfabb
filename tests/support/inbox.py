"""A real HTTP endpoint on 127.0.0.1 that receives notifications (apprise's `json://`
POSTs), for tests: what arrived, and a wait with a deadline."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Inbox:
    """Collects the JSON bodies POSTed to it (with their Authorization header)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
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

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

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

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
