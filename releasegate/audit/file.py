"""The default audit store: one read-only JSON file per record, never rewritten.

Layout: `<root>/<environment>/<seq, 12 digits>.json`. A record is created with O_EXCL, so
an existing file is never replaced; an fcntl lock per environment serialises writers on
one machine, and O_EXCL would still refuse a second writer for the same slot.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from releasegate.audit.record import GENESIS, AuditEntry, AuditRecord, seal, verify_chain
from releasegate.audit.store import AuditUnavailable


class FileAuditStore:
    """AuditStore on a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"FileAuditStore({str(self.root)!r})"

    def append(self, entry: AuditEntry) -> AuditRecord:
        folder = self._folder(entry.environment)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with self._locked(folder):
                head = next(self.newest(entry.environment), None)
                record = seal(
                    entry,
                    seq=head.seq + 1 if head else 0,
                    prev_hash=head.hash if head else GENESIS,
                )
                self._create(folder / f"{record.seq:012d}.json", record)
        except OSError as exc:
            raise AuditUnavailable(f"cannot write the audit record to {folder}: {exc}") from exc
        return record

    def newest(self, environment: str) -> Iterator[AuditRecord]:
        for path in reversed(self._files(environment)):
            yield self._read(path)

    def chain(self, environment: str) -> Iterator[AuditRecord]:
        for path in self._files(environment):
            yield self._read(path)

    def verify(self, environment: str) -> list[str]:
        records, unreadable = [], []
        for path in self._files(environment):
            try:
                records.append(self._read(path))
            except ValueError as exc:
                unreadable.append(f"{environment}: {path.name}: not a valid audit record: {exc}")
        return unreadable + verify_chain(records)

    def environments(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def _folder(self, environment: str) -> Path:
        if not environment or "/" in environment or environment.startswith("."):
            raise AuditUnavailable(f"{environment!r} is not a usable environment name")
        return self.root / environment

    def _files(self, environment: str) -> list[Path]:
        folder = self._folder(environment)
        if not folder.is_dir():
            return []
        return sorted(folder.glob("[0-9]*.json"))

    @staticmethod
    def _read(path: Path) -> AuditRecord:
        return AuditRecord.model_validate_json(path.read_bytes())

    @staticmethod
    def _create(path: Path, record: AuditRecord) -> None:
        data = json.dumps(record.model_dump(mode="json"), indent=1, sort_keys=True).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    @contextmanager
    def _locked(folder: Path) -> Iterator[None]:
        with open(folder / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
