"""Which process is this, and is a process named earlier provably gone?

A PID alone proves nothing: it is reused, it means something else in another PID namespace
(a container) or after a reboot, and it is meaningless on another machine. A process is
identified by its host, the kernel's boot id, its PID namespace, its PID and its start time
(in clock ticks since boot). Another process can be declared dead only from the same boot
and namespace: then either the PID no longer runs or it runs a process that started at
another time. From anywhere else nothing can be proved, and callers must wait instead.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from releasegate.processes import alive, started


class ProcessIdentity(BaseModel):
    """One process, told apart from every other process that had or will have its PID."""

    model_config = ConfigDict(frozen=True)

    host: str
    boot_id: str
    pid_namespace: str
    pid: int
    started: int
    """Start time in clock ticks since boot (/proc/<pid>/stat, field 22)."""

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def this_process() -> ProcessIdentity:
    pid = os.getpid()
    return ProcessIdentity(
        host=socket.gethostname(),
        boot_id=_boot_id(),
        pid_namespace=_pid_namespace(),
        pid=pid,
        started=started(pid) or 0,
    )


def provably_dead(process: ProcessIdentity) -> bool:
    """True only if `process` certainly runs no more: same boot and PID namespace as us, and
    its PID is free or belongs to a process started at another time."""
    here = (_boot_id(), _pid_namespace())
    if "" in here or (process.boot_id, process.pid_namespace) != here:
        return False
    return not alive(process.pid) or started(process.pid) != process.started


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""  # without /proc nothing can be proved


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
