"""The default audit store: one read-only JSON file per record, on a local filesystem.

Layout (the S3 store's, see `layout.py`, so a history moves between them by plain copy)::

    <root>/<env>/records/<inverted seq>-<seq>.json   the records, mode 0444, never rewritten
    <root>/<env>/.head                               a hint: the newest seq this store wrote
    <root>/<env>/.tmp/                               records being written (what a crash
                                                     leaves is swept after an hour)

* **Flat cost.** A record's name is a function of its seq, so nothing ever lists the
  directory: the head is found from the hint by probing for the next slots (galloping,
  then bisecting), which costs a few `stat`s whatever the history size, and stays correct
  when the hint is stale, missing or wrong.
* **Exclusive, complete slots.** A record is written and fsynced under `.tmp/`, then
  hard-linked into its slot: `link` fails if the slot exists, so of several writers (threads,
  processes) exactly one wins each slot, and a crash leaves a slot empty or complete,
  never half-written. Losers re-read the head and retry on top of it.
* Histories in the old layout (`<root>/<env>/<seq, 12 digits>.json`) are moved into
  `records/` the first time the environment is used (see `legacy.py`).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from releasegate.audit import legacy
from releasegate.audit.chainstore import ChainStore
from releasegate.audit.layout import RECORDS, env_segment, environment_of, parse_record_name
from releasegate.audit.layout import record_path as _record_path
from releasegate.audit.record import NotARecord
from releasegate.audit.store import AuditUnavailable, Finding
from releasegate.audit.witness import Witness

STALE_TMP = 3600.0
"""Seconds after which a file in `<env>/.tmp/` is taken to be left by a writer that crashed."""


class FileAuditStore(ChainStore):
    """AuditStore on a local directory (see the module docstring)."""

    def __init__(
        self, root: Path, *, witness: Witness | None = None, contention_timeout: float = 60.0
    ) -> None:
        super().__init__(witness=witness, contention_timeout=contention_timeout)
        self.root = root
        self._root = str(root)
        self._checked_layout: set[str] = set()
        self._swept: set[str] = set()

    @property
    def url(self) -> str:
        return str(self.root.absolute())

    def record_path(self, environment: str, seq: int) -> Path:
        """The file of slot `seq`."""
        return Path(self._slot(environment, seq))

    def _slot(self, environment: str, seq: int) -> str:
        # A string, not a Path: verify builds 100k of these, and pathlib costs 10x more.
        return os.path.join(self._root, _record_path(environment, seq))

    # ------------------------------------------------------------------ the backend

    def _read(self, environment: str, seq: int) -> bytes | None:
        self._layout(environment)
        try:
            with open(self._slot(environment, seq), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:  # a directory in the slot, no permission, an I/O error
            raise NotARecord(f"cannot be read: {exc.strerror or exc}") from None

    def _create(self, environment: str, seq: int, data: bytes) -> bool:
        folder = self.root / env_segment(environment)
        slot = self.record_path(environment, seq)
        try:
            self._layout(environment)
            (folder / ".tmp").mkdir(parents=True, exist_ok=True)
            if environment not in self._swept:
                _sweep(folder / ".tmp")
                self._swept.add(environment)
            slot.parent.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder / ".tmp", suffix=".json")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fchmod(f.fileno(), 0o444)
                    os.fsync(f.fileno())
                try:
                    os.link(tmp, slot)
                except FileExistsError:
                    return False
            finally:
                os.unlink(tmp)
            _fsync_dir(slot.parent)  # the link itself must survive a power cut
        except OSError as exc:
            raise AuditUnavailable(f"cannot write the audit record to {folder}: {exc}") from exc
        self._hint_at(environment, seq)
        return True

    def _hint_at(self, environment: str, seq: int) -> None:
        hint = self.root / env_segment(environment) / ".head"
        try:
            tmp = hint.parent / ".tmp" / f"head.{os.getpid()}.{threading.get_ident()}"
            tmp.write_text(str(seq))
            os.replace(tmp, hint)  # atomic: a reader sees the old or the new hint
        except OSError:
            pass  # only a hint: the next head search probes a little further

    def _head_seq(self, environment: str, at_least: int | None = None) -> int | None:
        self._layout(environment)
        start = at_least if at_least is not None else self._hint(environment)
        if start is None or not self._occupied(environment, start):
            if not self._occupied(environment, 0):
                # No #0: an empty chain, or a damaged one. Only then list the folder.
                return self._highest_listed(environment)
            start = 0
        # Gallop up from an occupied slot until an empty one, then bisect between them.
        low, step = start, 1
        while self._occupied(environment, low + step):
            low, step = low + step, step * 2
        high = low + step
        while high - low > 1:
            mid = (low + high) // 2
            if self._occupied(environment, mid):
                low = mid
            else:
                high = mid
        return low

    def _scan(self, environment: str) -> Iterator[str]:
        self._layout(environment)
        folder = self.root / env_segment(environment)
        for entry in _entries(folder):
            if entry.name == RECORDS and entry.is_dir(follow_symlinks=False):
                for rec in _entries(Path(entry.path)):
                    yield f"{RECORDS}/{rec.name}{_slash(rec)}"
            else:
                yield entry.name + _slash(entry)

    def _where(self, environment: str, seq: int) -> str:
        return self._slot(environment, seq)

    def environments(self) -> list[str]:
        return sorted(
            name for entry in _entries(self.root) if (name := self._environment(entry)) is not None
        )

    def foreign(self) -> Iterator[Finding]:
        for entry in _entries(self.root):
            if self._environment(entry) is None:
                what = "a folder without records/" if entry.is_dir() else "not an environment"
                yield Finding(f"{entry.path}: {what}: ignored", "notice")

    # ------------------------------------------------------------------ internals

    def _environment(self, entry: os.DirEntry[str]) -> str | None:
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            return None
        folder = Path(entry.path)
        if legacy.present(folder):
            return environment_of(entry.name) or entry.name  # old folders were not quoted
        return environment_of(entry.name) if (folder / RECORDS).is_dir() else None

    def _layout(self, environment: str) -> None:
        """Move an old-layout history into `records/`, once per environment and store."""
        if environment in self._checked_layout:
            return
        legacy.migrate(self.root, environment, self.url)
        self._checked_layout.add(environment)

    def _occupied(self, environment: str, seq: int) -> bool:
        return os.path.lexists(self._slot(environment, seq))

    def _hint(self, environment: str) -> int | None:
        try:
            text = (self.root / env_segment(environment) / ".head").read_text()
            return int(text) if text.strip().isdigit() else None
        except OSError:
            return None

    def _highest_listed(self, environment: str) -> int | None:
        folder = self.root / env_segment(environment) / RECORDS
        seqs = (parse_record_name(e.name) for e in _entries(folder))
        return max((s for s in seqs if s is not None), default=None)


def _entries(folder: Path) -> Iterator[os.DirEntry[str]]:
    """The entries of `folder`, streamed; none if it does not exist."""
    try:
        with os.scandir(folder) as it:
            yield from it
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise AuditUnavailable(f"cannot list {folder}: {exc.strerror or exc}") from None


def _sweep(tmp: Path) -> None:
    """Remove what writers that crashed left in `tmp`: files older than STALE_TMP. A live
    writer holds its file for milliseconds; an old one was either linked into its slot
    already (a second name) or never became a record."""
    now = time.time()
    for entry in _entries(tmp):
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime > STALE_TMP:
                os.unlink(entry.path)
        except OSError:
            pass  # gone already (another sweeper), or not ours to remove: harmless either way


def _slash(entry: os.DirEntry[str]) -> str:
    return "/" if entry.is_dir(follow_symlinks=False) else ""


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
