"""Where a new instance listens, so that it never takes a port someone else counts on.

An instance that takes a socket (see settings.py) gets a port the kernel picks from its
ephemeral range, bound before the instance exists and never released until it exits: no
other instance, proxy or program can take it meanwhile. Configured URLs belong below that
range (where `free_port` and the example configurations put them), so they stay clear.

An instance that binds its `{port}` itself cannot be protected that way: between the choice
and its bind, the port is free for anyone. Its port is drawn below the ephemeral range (where
only deliberate binds compete, not every outgoing connection) from this home's port book:

`home/ports.json`, changed under `home/ports.lock` and replaced by rename:
- `urls`: "<app>/<environment>" -> the port of its configured URL, noted by every deploy and
  rollback for every environment of its configuration, up or not. No instance is given one
  (kernel-picked ports that fall on one are refused too).
- `held`: ports drawn for such instances, with the process that drew them, until the instance
  has answered its health check or failed. Deployers of this home never draw a held port. A
  hold whose process is gone (a deployer killed mid-start) is void, so nothing stays
  reserved for ever.
What remains is a program outside this home binding the port in that gap: the instance then
fails its start-up with the app's own "address in use", and the rollout stops cleanly.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, ValidationError

from releasegate import processes
from releasegate.targets.base import TargetError
from releasegate.targets.local.state import locked, write_atomic

log = logging.getLogger(__name__)

DRAWS = 200
"""Ports tried (each checked free now) before a draw gives up."""


class Hold(BaseModel):
    """A port drawn for an instance that will bind it itself."""

    pid: int
    started: int
    """When `pid` started: a reused PID is not mistaken for the deployer that drew the port."""
    purpose: str

    def void(self) -> bool:
        """True once the process that drew the port is gone."""
        return processes.started(self.pid) != self.started


class Book(BaseModel):
    urls: dict[str, int] = {}
    held: dict[int, Hold] = {}

    def taken(self) -> set[int]:
        """Ports no instance may be given: configured URLs and live holds."""
        return set(self.urls.values()) | {p for p, hold in self.held.items() if not hold.void()}


class PortBook:
    """The port book of one home (see the module's docstring)."""

    def __init__(self, home: Path, span: range | None = None) -> None:
        self.path = home / "ports.json"
        self._lock = home / "ports.lock"
        self.span = span or range(10_000, processes.ephemeral_low())
        """Where ports for instances that bind their own are drawn."""

    def note(self, urls: Mapping[str, int]) -> None:
        """Record configured URLs ("<app>/<environment>" -> port)."""
        if self._read().urls.items() >= urls.items():
            return  # known already: no write, no lock
        with locked(self._lock):
            book = self._read()
            book.urls.update(urls)
            self._write(book)

    def listener(self, purpose: str) -> socket.socket:
        """A socket listening on a port the kernel picked, none that this book counts on."""
        try:
            return processes.listen(avoid=self._read().taken())
        except OSError as exc:
            raise TargetError(f"no port to listen on for {purpose}: {exc}") from exc

    def hold(self, purpose: str) -> int:
        """A free port from `span` that nobody counts on, held for this process until released."""
        me = os.getpid()
        started = processes.started(me)
        assert started is not None  # this very process runs
        with locked(self._lock):
            book = self._read()
            book.held = {p: hold for p, hold in book.held.items() if not hold.void()}
            taken = book.taken()
            candidates = [port for port in self.span if port not in taken]
            for port in random.sample(candidates, min(DRAWS, len(candidates))):
                if processes.port_free(port):
                    book.held[port] = Hold(pid=me, started=started, purpose=purpose)
                    self._write(book)
                    return port
        raise TargetError(
            f"no free port for {purpose} in {self.span.start}-{self.span.stop - 1}: "
            f"{len(taken)} are configured URLs or held, {min(DRAWS, len(candidates))} more in use"
        )

    def release(self, ports: Iterable[int]) -> None:
        """Give back ports this process holds."""
        ports = set(ports)
        if not ports:
            return
        with locked(self._lock):
            book = self._read()
            for port in ports & set(book.held):
                if book.held[port].pid == os.getpid():
                    del book.held[port]
            self._write(book)

    def _read(self) -> Book:
        try:
            return Book.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return Book()
        except (OSError, ValidationError) as exc:
            # Every entry comes back by itself: URLs at their next deploy, holds are brief.
            log.warning("%s is unreadable (%s): starting a new port book", self.path, exc)
            return Book()

    def _write(self, book: Book) -> None:
        write_atomic(self.path, book.model_dump_json(indent=1))
