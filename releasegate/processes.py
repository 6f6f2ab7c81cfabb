"""Processes we start and stop ourselves: spawn detached, wait on a condition, stop by PID.

Used by the local target, the Prefect server the demo starts, and the test suite's servers.
Everything binds 127.0.0.1; everything is stopped by the PID we recorded, never by name.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from releasegate.errors import Failed


class Timeout(Failed):
    """A condition did not hold before its deadline."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Chosen below the kernel's ephemeral range: a port from that range (what binding to
    port 0 gives) can be taken as the local end of any outgoing connection in the gap
    before our server binds it, and on a busy machine it was.
    """
    low = _ephemeral_low()
    for _ in range(100):
        port = random.randint(10_000, low - 1)
        if port_free(port):
            return port
    with socket.socket() as s:  # a crowded machine: settle for an ephemeral port
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ephemeral_low() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(low, 10_001)


def port_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:`port`."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str = "condition",
) -> None:
    """Poll `condition` until it is true; raise Timeout after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except Exception:
            pass
        if time.monotonic() >= deadline:
            raise Timeout(f"{what} not reached within {timeout:g}s")
        time.sleep(interval)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True if GET `url` answers 2xx."""
    try:
        return httpx.get(url, timeout=timeout).is_success
    except httpx.HTTPError:
        return False


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` (a list: never a shell string) in its own session, output to `log`.

    Its own session means it outlives the caller (a flow run) and Ctrl-C in the
    caller's terminal does not reach it.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )


def alive(pid: int) -> bool:
    """True if `pid` runs (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A zombie still answers kill(0); its state letter in /proc says Z.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def cmdline(pid: int) -> list[str]:
    """The argv of `pid`, or [] if it is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def owns(pid: int, argv: Sequence[str], cwd: Path | None = None) -> bool:
    """True if `pid` runs and is still the process we started with `argv` (in `cwd`).

    A recorded PID may since belong to an unrelated process: check before signalling it.
    """
    if not alive(pid) or cmdline(pid) != list(argv):
        return False
    if cwd is None:
        return True
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == cwd.resolve()
    except OSError:
        return False


def stop_if_ours(pid: int, argv: Sequence[str], cwd: Path | None = None) -> bool:
    """Stop `pid` if `owns` says it is ours; True if it was stopped."""
    if not owns(pid, argv, cwd):
        return False
    stop(pid)
    return True


def stop(pid: int, *, grace: float = 10.0) -> None:
    """SIGTERM `pid` (and its process group), wait up to `grace` seconds, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _signal(pid, sig):
            return
        try:
            wait_until(lambda: not alive(pid), timeout=grace, what=f"exit of pid {pid}")
            _reap(pid)
            return
        except Timeout:
            continue


def _signal(pid: int, sig: signal.Signals) -> bool:
    # spawn() makes each process a group leader: signal the group so its children go too.
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def _reap(pid: int) -> None:
    # Our own children stay zombies until waited for; others are not ours to wait.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
