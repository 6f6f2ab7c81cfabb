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
from collections.abc import Callable, Container, Mapping, Sequence
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
    low = ephemeral_low()
    for _ in range(100):
        port = random.randint(10_000, low - 1)
        if port_free(port):
            return port
    with socket.socket() as s:  # a crowded machine: settle for an ephemeral port
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (binding to port 0 gives one from it);
    at least 10001."""
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


def listen(port: int = 0, *, avoid: Container[int] = ()) -> socket.socket:
    """A TCP socket listening on 127.0.0.1:`port`; OSError if something else has the port.

    Port 0: a port the kernel picks, never one in `avoid`. Bound and listening from this
    call on, so no other process can take the port, whoever this socket is handed to.
    """
    if port:
        return _listening(port)
    refused: list[socket.socket] = []  # kept open meanwhile, so the kernel offers another
    try:
        for _ in range(64):
            sock = _listening(0)
            if sock.getsockname()[1] not in avoid:
                return sock
            refused.append(sock)
        offered = sorted(s.getsockname()[1] for s in refused)
        raise OSError(f"the kernel offered only ports to avoid: {offered}")
    finally:
        for sock in refused:
            sock.close()


def _listening(port: int) -> socket.socket:
    sock = socket.socket()
    try:
        if port:
            # A fixed port (an environment's URL) must be reusable at once after its previous
            # holder stopped, while its closed connections linger in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        raise
    return sock


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


LISTEN_FD = 3
"""Where a spawned process finds the socket it is handed (systemd's SD_LISTEN_FDS_START)."""
LISTEN_VARIABLES = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")
# Hands the socket on as systemd socket activation does: it arrives as stdin, moves to fd 3,
# and LISTEN_PID names the process that may use it, which only the process itself can know:
# the shell sets it to its own PID, then execs the program (same PID). The script is a
# constant; the program and its arguments are positional parameters, never parsed by sh.
_HAND_OVER = 'exec 3<&0 0</dev/null; LISTEN_PID=$$; export LISTEN_PID; exec "$@"'


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    listener: socket.socket | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` (a list: never a shell string) in its own session, output to `log`.

    Its own session means it outlives the caller (a flow run) and Ctrl-C in the
    caller's terminal does not reach it. With a `listener`, the process gets that socket
    as fd 3 with `LISTEN_FDS=1` and `LISTEN_PID` (the systemd convention); the caller
    should close its own copy once this returns.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    inherited = {k: v for k, v in os.environ.items() if k not in LISTEN_VARIABLES}
    command, stdin = list(argv), subprocess.DEVNULL
    if listener is not None:
        command = ["/bin/sh", "-c", _HAND_OVER, "sh", *command]
        stdin, inherited["LISTEN_FDS"] = listener.fileno(), "1"
    with open(log, "ab") as out:
        return subprocess.Popen(
            command,
            stdin=stdin,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**inherited, **(env or {})},
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


def started(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), or None if it is gone.

    A PID and its start time name one process for good: a PID alone may be reused.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # The command name (field 2) may hold spaces and parentheses: split after its last
        # ')'. Field 22 (starttime) is then the 20th.
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


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
