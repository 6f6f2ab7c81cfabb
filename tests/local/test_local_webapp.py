"""The example app: its endpoints, and a SIGTERM that finishes what is in flight."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from releasegate import processes
from releasegate.targets.local import LocalBuilder


@pytest.fixture
def app(builder: LocalBuilder, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The app of a 3.1.4 bundle on a free port, and its base URL; stopped by PID afterwards."""
    port = processes.free_port()
    bundle = Path(builder.build("3.1.4").artifact)
    proc = processes.spawn(
        [sys.executable, "app.py", "--port", str(port)], log=tmp_path / "app.log", cwd=bundle
    )
    url = f"http://127.0.0.1:{port}"
    try:
        processes.wait_until(lambda: processes.http_ok(f"{url}/health"), timeout=10, what="app")
        yield proc, url
    finally:
        processes.stop(proc.pid)


def test_endpoints(app: tuple[subprocess.Popen[bytes], str]) -> None:
    _, url = app
    with httpx.Client(base_url=url, trust_env=False) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/version").json() == {"version": "3.1.4"}
        assert "3.1.4" in client.get("/").text
        assert client.get("/nope").status_code == 404


def test_sigterm_finishes_in_flight_requests_and_exits_0(
    app: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, url = app
    port = int(url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as idle,
        socket.create_connection(("127.0.0.1", port), timeout=10) as busy,
    ):
        # One kept-alive connection between requests, one request half sent.
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_until(idle, b'{"status": "ok"}\n').startswith(b"HTTP/1.1 200 OK")
        busy.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n")
        processes.wait_until(lambda: _busy(proc.pid), timeout=5, what="request in flight")

        proc.send_signal(signal.SIGTERM)
        assert idle.recv(4096) == b"", "the idle connection is closed"
        busy.sendall(b"\r\n")
        response = _read_until(busy, b"")

    assert response.startswith(b"HTTP/1.1 200 OK")
    assert b"Connection: close" in response
    assert response.endswith(b'{"version": "3.1.4"}\n')
    assert proc.wait(timeout=10) == 0


def _busy(pid: int) -> bool:
    """True once the app runs a handler thread besides its main thread (and the idle one)."""
    return len(list(Path(f"/proc/{pid}/task").iterdir())) >= 3


def _read_until(sock: socket.socket, end: bytes) -> bytes:
    """Bytes received until they end with `end`, or until EOF if `end` is empty."""
    data = b""
    while not (end and data.endswith(end)):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data
