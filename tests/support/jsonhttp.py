"""A real HTTP server on 127.0.0.1 that answers GETs and POSTs with JSON, for tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Respond = Callable[[str], tuple[int, Any]]
"""Given the request path, the status and the JSON body to answer with (bytes: the body
as given, e.g. something that is not JSON)."""
Authorise = Callable[[str, Message], bool]
"""Given the request path and headers, whether to answer at all (else 401)."""


class JsonServer:
    """Serves `respond(path)` on a free loopback port until `close()`; with `authorise`,
    only to requests it accepts. The JSON bodies POSTed to it (and accepted) are kept in
    `posted`."""

    def __init__(self, respond: Respond, authorise: Authorise | None = None) -> None:
        posted: list[Any] = []
        self.posted = posted

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                if self.accepted():
                    posted.append(body)
                self.do_GET()

            def accepted(self) -> bool:
                return authorise is None or authorise(self.path, self.headers)

            def do_GET(self) -> None:
                if self.accepted():
                    status, payload = respond(self.path)
                else:
                    status, payload = 401, {"error": "unauthorised"}
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
