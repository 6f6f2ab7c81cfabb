"""The example service releasegate deploys: standard library only, one process per instance.

`python app.py --fd 3 [--grace SECONDS]` serves the listening socket it inherited as file
descriptor 3 (how releasegate starts it: the port is bound before the app exists, so nothing
can take it meanwhile); `python app.py --port N` binds http://127.0.0.1:N itself. HTTP/1.1 with
keep-alive; every JSON answer names the version that served it:

- `GET /health` -> {"status": "ok"}
- `GET /version` -> {"version": ...}
- `GET /slow?ms=N` -> {"version": ..., "slept_ms": N}, after N milliseconds (0..5000)
- `POST /echo` -> {"version": ..., "body": ...}: the request body (UTF-8, Content-Length
  required, at most 64 KiB)
- `GET /` -> a text page.

The version comes from the VERSION file the build writes next to this file.
SIGTERM (or SIGINT) stops accepting, closes idle connections and lets requests in flight
finish for up to --grace seconds (default 8, less than the 10 s releasegate waits before it
sends SIGKILL); then it exits: 0 if every request finished, 1 if some were cut off.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

Reply = tuple[HTTPStatus, str, bytes]

VERSION_FILE = Path(__file__).with_name("VERSION")
GRACE_SECONDS = 8.0
SLOW_MAX_MS = 5000
ECHO_MAX_BYTES = 64 * 1024


def read_version() -> str:
    """The bundle's version; "dev" when run straight from the source tree."""
    try:
        return VERSION_FILE.read_text().strip()
    except FileNotFoundError:
        return "dev"


def as_json(payload: object) -> bytes:
    """`payload` as a JSON body."""
    return json.dumps(payload).encode() + b"\n"


def error(status: HTTPStatus, message: str) -> Reply:
    return status, "text/plain; charset=utf-8", f"{message}\n".encode()


def health(version: str, query: dict[str, list[str]]) -> Reply:
    """Liveness: the process answers."""
    return HTTPStatus.OK, "application/json", as_json({"status": "ok"})


def version_info(version: str, query: dict[str, list[str]]) -> Reply:
    """The version this instance runs."""
    return HTTPStatus.OK, "application/json", as_json({"version": version})


def slow(version: str, query: dict[str, list[str]]) -> Reply:
    """Answers after `ms` milliseconds: a request that is still in flight when traffic moves."""
    try:
        [raw] = query.get("ms", ["0"])
        ms = int(raw)
    except ValueError:
        ms = -1
    if not 0 <= ms <= SLOW_MAX_MS:
        return error(HTTPStatus.BAD_REQUEST, f"ms must be a whole number from 0 to {SLOW_MAX_MS}")
    time.sleep(ms / 1000)
    return HTTPStatus.OK, "application/json", as_json({"version": version, "slept_ms": ms})


def index(version: str, query: dict[str, list[str]]) -> Reply:
    """A human-readable page."""
    return HTTPStatus.OK, "text/plain; charset=utf-8", f"webapp {version}\n".encode()


def echo(version: str, body: bytes) -> Reply:
    """The request body back, with the version that read it."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return error(HTTPStatus.BAD_REQUEST, "the body must be UTF-8 text")
    return HTTPStatus.OK, "application/json", as_json({"version": version, "body": text})


ROUTES: dict[str, Callable[[str, dict[str, list[str]]], Reply]] = {
    "/health": health,
    "/version": version_info,
    "/slow": slow,
    "/": index,
}


class Server(ThreadingHTTPServer):
    """A threaded server that stops without cutting a request in half, within a bound."""

    # drain() waits for the handlers itself, up to the grace period; daemon threads let the
    # process exit after it even if a handler is still stuck (e.g. on a half-sent body).
    daemon_threads = True
    block_on_close = False

    def __init__(self, listener: socket.socket, version: str) -> None:
        super().__init__(listener.getsockname(), Handler, bind_and_activate=False)
        self.socket.close()  # the unbound socket TCPServer made: serve `listener` instead
        self.socket = listener
        self.version = version
        self.stopping = threading.Event()
        self._connections: dict[socket.socket, bool] = {}  # open connection -> idle?
        self._changed = threading.Condition()

    def mark(self, conn: socket.socket, *, idle: bool) -> bool:
        """Record `conn` as idle (waiting for a request) or busy; False if it should close."""
        with self._changed:
            if idle and self.stopping.is_set():
                return False
            self._connections[conn] = idle
            return True

    def forget(self, conn: socket.socket) -> None:
        """`conn` is closed."""
        with self._changed:
            self._connections.pop(conn, None)
            self._changed.notify_all()

    def drain(self, grace: float) -> tuple[int, int]:
        """After serve_forever returns: stop listening, close idle keep-alive connections and
        wait up to `grace` seconds for the busy ones. (requests in flight, requests cut off)."""
        self.server_close()  # new connections are refused from now on
        with self._changed:
            self.stopping.set()
            busy = 0
            for conn, idle in self._connections.items():
                busy += not idle
                if idle:
                    # SHUT_RD wakes the handler blocked on its next request line with EOF,
                    # yet still lets it write a response it may already be producing.
                    with contextlib.suppress(OSError):
                        conn.shutdown(socket.SHUT_RD)
            self._changed.wait_for(lambda: not self._connections, timeout=grace)
            return busy, len(self._connections)


class Handler(BaseHTTPRequestHandler):
    """Serves ROUTES and /echo; tells the server when its connection is idle."""

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
        super().finish()
        self.server.forget(self.connection)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        route = ROUTES.get(parts.path)
        if route is None:
            self.reply(error(HTTPStatus.NOT_FOUND, "not found"))
        else:
            self.reply(route(self.server.version, parse_qs(parts.query)))

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "")
        if urlsplit(self.path).path != "/echo":
            refusal = error(HTTPStatus.NOT_FOUND, "not found")
        elif not length.isdigit():
            refusal = error(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
        elif int(length) > ECHO_MAX_BYTES:
            too_large = f"the body must be at most {ECHO_MAX_BYTES} bytes"
            refusal = error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large)
        else:
            self.reply(echo(self.server.version, self.rfile.read(int(length))))
            return
        # The body stays unread and would be taken for the next request: close after this.
        self.close_connection = True
        self.reply(refusal)

    def reply(self, reply: Reply) -> None:
        status, content_type, body = reply
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection or self.server.stopping.is_set():
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """No access log: the environment's proxy sees every request already."""


def adopt(fd: int) -> socket.socket:
    """The listening TCP socket inherited as `fd`; ValueError if `fd` is not one."""
    try:
        sock = socket.socket(fileno=fd)  # family and type are read from the descriptor
    except OSError as exc:
        raise ValueError(f"file descriptor {fd} is not a socket ({exc.strerror})") from None
    tcp = sock.type == socket.SOCK_STREAM and sock.family in (socket.AF_INET, socket.AF_INET6)
    if not tcp or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        raise ValueError(f"file descriptor {fd} is not a listening TCP socket")
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--fd", type=int, help="serve the listening socket inherited as this file descriptor"
    )
    where.add_argument("--port", type=int, help="bind 127.0.0.1:PORT")
    parser.add_argument(
        "--grace",
        type=float,
        default=GRACE_SECONDS,
        help="seconds that requests in flight get to finish after SIGTERM",
    )
    args = parser.parse_args(argv)
    try:
        if args.fd is not None:
            listener = adopt(args.fd)
        else:
            listener = socket.create_server(("127.0.0.1", args.port))
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    server = Server(listener, read_version())

    def request_stop(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever, which runs in this (the main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    port = listener.getsockname()[1]
    print(f"webapp {server.version} serving http://127.0.0.1:{port}", flush=True)
    server.serve_forever(poll_interval=0.1)
    in_flight, cut_off = server.drain(args.grace)
    print(
        f"webapp {server.version} stopped: {in_flight} requests were in flight, "
        f"{cut_off} cut off after the {args.grace:g}s grace period",
        flush=True,
    )
    return 1 if cut_off else 0


if __name__ == "__main__":
    raise SystemExit(main())
