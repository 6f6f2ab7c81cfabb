"""File-store histories written before the shared layout: `<root>/<env>/<seq:012d>.json`.

They are moved, not converted: each file is hard-linked into `<root>/<segment>/records/`
under its new name and then unlinked from the old one, so its bytes (and hash) are exactly
those written at the time and the chain verifies as before. Linking first makes the move
safe to interrupt: a crash leaves every record reachable by at least one name, and the next
run finishes the move. Record #0 is unlinked last: while its old name exists, the move is
not finished. Runs once per environment and process, under the folder's lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
from pathlib import Path

from releasegate.audit.layout import RECORDS, env_segment, record_name
from releasegate.audit.store import AuditUnavailable

log = logging.getLogger("releasegate.audit")

_OLD_NAME = re.compile(r"^(\d{12})\.json$")
_FIRST = "000000000000.json"


def present(folder: Path) -> bool:
    """Whether `folder` still holds old-layout records (a `stat`, unless it has no records/)."""
    if (folder / _FIRST).exists():
        return True
    if (folder / RECORDS).is_dir() or not folder.is_dir():
        return False
    with os.scandir(folder) as entries:
        return any(_OLD_NAME.match(e.name) for e in entries)


def migrate(root: Path, environment: str, store: str) -> None:
    """Move `environment`'s old-layout records (if any) into the shared layout.

    The old layout used the environment's name as the folder; the new one URL-quotes it.
    """
    target = root / env_segment(environment) / RECORDS
    for folder in dict.fromkeys([root / env_segment(environment), root / environment]):
        if not present(folder):
            continue
        try:
            moved = _move(folder, target)
        except OSError as exc:
            raise AuditUnavailable(
                f"audit store {store}: {folder} holds records in the old layout "
                f"(<seq>.json) that cannot be moved to {target}: {exc}; run releasegate once "
                "with write access to the store"
            ) from None
        log.warning(
            "audit store %s: moved %d records of %r from the old layout (%s/<seq>.json) to "
            "%s (contents and hashes unchanged)",
            store,
            moved,
            environment,
            folder,
            target,
        )


def _move(folder: Path, target: Path) -> int:
    target.mkdir(parents=True, exist_ok=True)
    moved = 0
    with open(target.parent / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with os.scandir(folder) as entries:
            for entry in entries:
                m = _OLD_NAME.match(entry.name)
                if m is None:
                    continue
                if _link(Path(entry.path), target / record_name(int(m.group(1)))):
                    if entry.name != _FIRST:
                        os.unlink(entry.path)
                    moved += 1
        first = folder / _FIRST
        if first.exists() and os.path.samefile(first, target / record_name(0)):
            os.unlink(first)
    return moved


def _link(old: Path, new: Path) -> bool:
    """Give `old` its new name; False (and an error logged) if another file holds it."""
    try:
        os.link(old, new)
    except FileExistsError:
        if not os.path.samefile(old, new):
            log.error("audit: %s and %s are different records for one slot: %s kept", old, new, old)
            return False
    return True
