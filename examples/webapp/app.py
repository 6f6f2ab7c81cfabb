"""The example service releasegate deploys: standard library only, one process per instance.

`python app.py --port N` serves http://127.0.0.1:N with HTTP/1.1 keep-alive:
`GET /health` -> {"status": "ok"}, `GET /version` -> {"version": ...}, `GET /` -> a text page.
The version comes from the VERSION file the build writes next to this file.
SIGTERM (or SIGINT) stops accepting, finishes in-flight requests, closes idle connections
and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Reply = tuple[HTTPStatus, str, bytes]

VERSION_FILE = Path(__file__).with_name("VERSION")


def read_version() -> str:
    """The bundle's version; "dev" when run straight from the source tree."""
    try:
        return VERSION_FILE.read_text().strip()
    except FileNotFoundError:
        return "dev"


def as_json(payload: object) -> bytes:
    """`payload` as a JSON body."""
    return json.dumps(payload).encode() + b"\n"


def health(version: str) -> Reply:
    """Liveness: the process answers."""
    return HTTPStatus.OK, "application/json", as_json({"status": "ok"})


def version_info(version: str) -> Reply:
    """The version this instance runs."""
    return HTTPStatus.OK, "application/json", as_json({"version": version})


def index(version: str) -> Reply:
    """A human-readable page."""
    return HTTPStatus.OK, "text/plain; charset=utf-8", f"webapp {version}\n".encode()


ROUTES: dict[str, Callable[[str], Reply]] = {
    "/health": health,
    "/version": version_info,
    "/": index,
}


class Server(ThreadingHTTPServer):
    """A threaded server that can stop without cutting a request in half."""

    # Non-daemon handler threads: server_close() joins them, so in-flight requests finish.
    daemon_threads = False

    def __init__(self, port: int, version: str) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.version = version
        self.stopping = threading.Event()
        self._idle: set[socket.socket] = set()
        self._lock = threading.Lock()

    def mark(self, conn: socket.socket, *, idle: bool) -> bool:
        """Record `conn` as idle (waiting for a request) or busy; False if it should close."""
        with self._lock:
            if idle and self.stopping.is_set():
                return False
            if idle:
                self._idle.add(conn)
            else:
                self._idle.discard(conn)
            return True

    def drain(self) -> None:
        """After serve_forever returns: close idle keep-alive connections, join busy ones."""
        with self._lock:
            self.stopping.set()
            for conn in self._idle:
                # SHUT_RD wakes the handler blocked on its next request line with EOF, yet
                # still lets it write a response it may already be producing.
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RD)
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    """Serves ROUTES; tells the server when its connection is idle."""

    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections end after this long; it exceeds the usual client pool
    # expiry (httpx: 5 s) so the client, not the server, closes idle connections first.
    timeout = 75
    # Headers and body are separate writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK hold the body back ~40 ms on every keep-alive request.
    disable_nagle_algorithm = True
    server: Server

    def handle_one_request(self) -> None:
        if not self.server.mark(self.connection, idle=True):
            self.close_connection = True
            return
        super().handle_one_request()

    def parse_request(self) -> bool:
        self.server.mark(self.connection, idle=False)
        return super().parse_request()

    def finish(self) -> None:
        self.server.mark(self.connection, idle=False)
        super().finish()

    def do_GET(self) -> None:
        route = ROUTES.get(self.path.split("?", 1)[0])
        if route is None:
            self.reply((HTTPStatus.NOT_FOUND, "text/plain", b"not found\n"))
        else:
            self.reply(route(self.server.version))

    def reply(self, reply: Reply) -> None:
        status, content_type, body = reply
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.server.stopping.is_set():
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """No access log: the environment's proxy sees every request already."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    server = Server(args.port, read_version())

    def request_stop(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever, which runs in this (the main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print(f"webapp {server.version} serving http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.drain()
    print(f"webapp {server.version} stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
