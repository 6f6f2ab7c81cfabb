"""Processes the local target starts: launch, health, ownership, stop.

A PID in a state file may since have been reused by an unrelated process, so nothing is
stopped unless its command line and working directory are still the ones we started
(`processes.owns`).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

import httpx

from releasegate import processes
from releasegate.targets.base import Probe


def launch(
    argv: Sequence[str], *, cwd: Path, log: Path, listener: socket.socket | None = None
) -> int:
    """Start `argv` detached (it outlives this Python process), handing it `listener` if
    given (as fd 3, see `processes.spawn`); its PID."""
    env = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}  # live logs, pristine bundles
    return processes.spawn(argv, log=log, env=env, cwd=cwd, listener=listener).pid


def status_of(url: str) -> int | None:
    """HTTP status of GET `url`, or None if it does not answer."""
    try:
        # Plain HTTP on loopback: verify=False skips loading CA certificates (~80 ms a call).
        return httpx.get(url, timeout=2.0, trust_env=False, verify=False).status_code
    except httpx.HTTPError:
        return None


def readiness(
    pid: int, base_url: str, health_path: str, probe: Probe, timeout: float
) -> str | None:
    """Why the instance at `base_url` is not fit for traffic, or None when it is.

    Waits up to `timeout` for `health_path` to answer 200 (giving up early if the process
    exits), then asks `probe`.
    """
    health = base_url + health_path
    try:
        processes.wait_until(
            lambda: not processes.alive(pid) or status_of(health) == 200,
            timeout=timeout,
            what=f"health of {health}",
        )
    except processes.Timeout:
        return f"{health} did not answer 200 within {timeout:g}s (last: {status_of(health)})"
    if not processes.alive(pid):
        return f"the process (pid {pid}) exited before {health} answered 200"
    try:
        fit = probe(base_url)
    except Exception as exc:
        return f"the probe raised {exc!r} for {base_url}"
    return None if fit else f"the probe rejected {base_url}"


def tail(log: Path, lines: int = 20) -> str:
    """The last `lines` lines of `log` ("" if there is none)."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
