"""One environment's state file: which processes run, which of them get traffic.

`home/envs/<environment>/state.json` is the single source of truth for the deployer and the
environment's proxy alike. Writers hold an fcntl lock; every write replaces the file by
rename, so readers (the proxy, `current()`) never see half a file and need no lock.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

Role = Literal["starting", "live", "canary", "warm"]
"""starting: not routed yet; live/canary: routed; warm: running, not routed (instant rollback)."""


class Instance(BaseModel):
    """One process of one release."""

    id: str
    version: str
    digest: str
    artifact: str
    pid: int
    port: int
    argv: list[str]
    role: Role
    colour: str | None = None
    weight: int = 0
    """Share of traffic relative to the other routed instances; 0 = not routed."""
    started_at: datetime

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class ProxyProcess(BaseModel):
    """The environment's reverse proxy: the stable URL."""

    pid: int
    port: int
    argv: list[str]


class ProxyAck(BaseModel):
    """Written by the proxy once it routes by `generation` and nothing is in flight elsewhere."""

    pid: int
    generation: int


class EnvState(BaseModel):
    """Everything releasegate runs for one environment."""

    app: str
    environment: str
    generation: int = 0
    """Bumped at every routing change; the proxy acknowledges it (ProxyAck)."""
    proxy: ProxyProcess | None = None
    instances: list[Instance] = []

    def routes(self) -> dict[str, int]:
        """Backend URL -> weight, for the routed instances."""
        return {i.url: i.weight for i in self.instances if i.weight > 0}


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` by rename: readers see the old or the new file, whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Exclusive use of what the lock file `path` guards, across processes and threads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class StateFile:
    """The state and proxy-ack files of one environment directory."""

    def __init__(self, env_dir: Path) -> None:
        self.dir = env_dir
        self.path = env_dir / "state.json"
        self.ack_path = env_dir / "proxy-ack.json"
        # The lock is a separate file: state.json itself is replaced on every write.
        self._lock_path = env_dir / "state.lock"

    def read(self) -> EnvState | None:
        """The state, or None if nothing was ever deployed here."""
        try:
            return EnvState.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return None

    def write(self, state: EnvState) -> None:
        write_atomic(self.path, state.model_dump_json(indent=2))

    def locked(self) -> AbstractContextManager[None]:
        """Exclusive access for a read-modify-write (across processes)."""
        return locked(self._lock_path)

    def read_ack(self) -> ProxyAck | None:
        try:
            return ProxyAck.model_validate_json(self.ack_path.read_bytes())
        except (FileNotFoundError, ValueError):
            return None

    def write_ack(self, ack: ProxyAck) -> None:
        write_atomic(self.ack_path, ack.model_dump_json())
