"""A real HTTP server on 127.0.0.1 that answers GETs with JSON, for tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Respond = Callable[[str], tuple[int, Any]]
"""Given the request path, the status and the JSON body to answer with."""
Authorise = Callable[[str, Message], bool]
"""Given the request path and headers, whether to answer at all (else 401)."""


class Loopback:
    """A threaded HTTP server on a free loopback port, answering with `handler`, until
    `close()`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Quiet(BaseHTTPRequestHandler):
    """A request handler that logs nothing."""

    def log_message(self, *args: object) -> None:
        pass


class JsonServer(Loopback):
    """Serves `respond(path)` on a free loopback port until `close()`; with `authorise`,
    only to requests it accepts."""

    def __init__(self, respond: Respond, authorise: Authorise | None = None) -> None:
        class Handler(Quiet):
            def do_GET(self) -> None:
                if authorise is None or authorise(self.path, self.headers):
                    status, payload = respond(self.path)
                else:
                    status, payload = 401, {"error": "unauthorised"}
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)
