"""The example app: its endpoints, and a SIGTERM that finishes what is in flight, within a bound."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from releasegate import processes
from releasegate.targets.local.bundle import LocalBuilder

App = tuple[subprocess.Popen[bytes], str]


@pytest.fixture
def start_app(builder: LocalBuilder, tmp_path: Path) -> Iterator[Callable[..., App]]:
    """Starts the app of a 3.1.4 bundle (with extra arguments) as releasegate does, handing it
    a listening socket; its process and base URL. Every app started is stopped by PID
    afterwards."""
    bundle = Path(builder.build("3.1.4").artifact)
    started: list[subprocess.Popen[bytes]] = []

    def start(*extra: str) -> App:
        with processes.listen() as listener:
            port = listener.getsockname()[1]
            argv = [sys.executable, "app.py", "--fd", "3", *extra]
            log = tmp_path / f"app-{port}.log"
            proc = processes.spawn(argv, log=log, cwd=bundle, listener=listener)
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        processes.wait_until(lambda: processes.http_ok(f"{url}/health"), timeout=10, what="app")
        return proc, url

    yield start
    for proc in started:
        processes.stop(proc.pid)


@pytest.fixture
def app(start_app: Callable[..., App]) -> App:
    return start_app()


def test_endpoints(app: App) -> None:
    _, url = app
    with httpx.Client(base_url=url, trust_env=False) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/version").json() == {"version": "3.1.4"}
        assert "3.1.4" in client.get("/").text
        assert client.get("/nope").status_code == 404
        assert client.get("/slow", params={"ms": 20}).json() == {"version": "3.1.4", "slept_ms": 20}
        body = "héllo\n" * 1000
        echoed = client.post("/echo", content=body.encode())
        assert echoed.json() == {"version": "3.1.4", "body": body}
        assert client.post("/echo", content=b"").json() == {"version": "3.1.4", "body": ""}


def test_with_a_port_it_binds_it_itself(builder: LocalBuilder, tmp_path: Path) -> None:
    port = processes.free_port()
    argv = [sys.executable, "app.py", "--port", str(port)]
    bundle = Path(builder.build("3.1.4").artifact)
    proc = processes.spawn(argv, log=tmp_path / "app.log", cwd=bundle)
    try:
        url = f"http://127.0.0.1:{port}/version"
        processes.wait_until(lambda: processes.http_ok(url), timeout=10, what="app")
        assert httpx.get(url, trust_env=False).json() == {"version": "3.1.4"}
    finally:
        processes.stop(proc.pid)


def test_a_descriptor_that_is_no_listening_socket_is_refused(builder: LocalBuilder) -> None:
    bundle = Path(builder.build("3.1.4").artifact)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as unbound:
        for fd, why in [
            (0, "file descriptor 0 is not a socket"),
            (udp.fileno(), f"file descriptor {udp.fileno()} is not a listening TCP socket"),
            (unbound.fileno(), f"file descriptor {unbound.fileno()} is not a listening TCP"),
        ]:
            done = subprocess.run(
                [sys.executable, "app.py", "--fd", str(fd)],
                cwd=bundle,
                pass_fds=(udp.fileno(), unbound.fileno()),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert (done.returncode, why in done.stderr) == (2, True), done.stderr


@pytest.mark.parametrize(
    ("request_args", "status", "message"),
    [
        (("GET", "/slow?ms=5001"), 400, "ms must be a whole number from 0 to 5000"),
        (("GET", "/slow?ms=-1"), 400, "ms must be a whole number"),
        (("GET", "/slow?ms=soon"), 400, "ms must be a whole number"),
        (("POST", "/echo", b"\xff\xfe"), 400, "the body must be UTF-8 text"),
        (("POST", "/echo", b"x" * (64 * 1024 + 1)), 413, "at most 65536 bytes"),
        (("POST", "/version", b"x"), 404, "not found"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    app: App, request_args: tuple[str, ...], status: int, message: str
) -> None:
    _, url = app
    method, path, *body = request_args
    with httpx.Client(base_url=url, trust_env=False) as client:
        response = client.request(method, path, content=body[0] if body else None)
        assert (response.status_code, message in response.text) == (status, True)
        assert client.get("/version").status_code == 200, "the connection (or a new one) works"


def test_a_post_without_length_is_refused_and_its_connection_closed(app: App) -> None:
    _, url = app
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n")
        response = _read_until(s, b"")
    assert response.startswith(b"HTTP/1.1 411 ")
    assert b"Connection: close" in response


def test_sigterm_finishes_in_flight_requests_and_exits_0(app: App) -> None:
    proc, url = app
    port = int(url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as idle,
        socket.create_connection(("127.0.0.1", port), timeout=10) as busy,
        socket.create_connection(("127.0.0.1", port), timeout=10) as slow,
    ):
        # One kept-alive connection between requests, one request half sent, one sleeping.
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_until(idle, b'{"status": "ok"}\n').startswith(b"HTTP/1.1 200 OK")
        busy.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n")
        slow.sendall(b"GET /slow?ms=500 HTTP/1.1\r\nHost: x\r\n\r\n")
        processes.wait_until(lambda: _read_by_app(busy, slow), timeout=5, what="in flight")

        proc.send_signal(signal.SIGTERM)
        assert idle.recv(4096) == b"", "the idle connection is closed"
        busy.sendall(b"\r\n")
        response = _read_until(busy, b"")
        slept = _read_until(slow, b"")

    assert response.startswith(b"HTTP/1.1 200 OK")
    assert b"Connection: close" in response
    assert response.endswith(b'{"version": "3.1.4"}\n')
    assert slept.startswith(b"HTTP/1.1 200 OK")
    assert slept.endswith(b'{"version": "3.1.4", "slept_ms": 500}\n')
    assert proc.wait(timeout=10) == 0


def test_sigterm_gives_up_on_a_stuck_request_after_the_grace_period(
    start_app: Callable[..., App], tmp_path: Path
) -> None:
    proc, url = start_app("--grace", "0.5")
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as stuck:
        # A body that never comes: the handler waits for it until the grace period ends.
        stuck.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        processes.wait_until(lambda: _read_by_app(stuck), timeout=5, what="in flight")
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 1
        assert time.monotonic() - signalled >= 0.5, "it waited for the grace period"
        assert _read_until(stuck, b"") == b"", "cut off without an answer"
    log = (tmp_path / f"app-{port}.log").read_text()
    assert "1 requests were in flight, 1 cut off after the 0.5s grace period" in log


def _read_by_app(*clients: socket.socket) -> bool:
    """True once the app has read everything each client sent (its receive queue is empty)."""
    pending = {f"{c.getpeername()[1]:04X}:{c.getsockname()[1]:04X}": -1 for c in clients}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        ends = f"{fields[1].split(':')[1]}:{fields[2].split(':')[1]}"  # app port : client port
        if ends in pending:
            pending[ends] = int(fields[4].split(":")[1], 16)
    return all(queued == 0 for queued in pending.values())


def _read_until(sock: socket.socket, end: bytes) -> bytes:
    """Bytes received until they end with `end`, or until EOF if `end` is empty."""
    data = b""
    while not (end and data.endswith(end)):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data
