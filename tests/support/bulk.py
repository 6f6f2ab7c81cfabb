"""Large histories, fast: the file store's exact files without its per-record fsync and link.

For benchmarks and for tests that need thousands of records. `test_flat_cost` checks that
the files are byte for byte what `FileAuditStore.append` writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from releasegate.audit.file import FileAuditStore
from releasegate.audit.record import GENESIS, AuditEntry, AuditRecord, encode, seal


def write_history(
    store: FileAuditStore, entries: Iterable[AuditEntry], head: AuditRecord | None = None
) -> AuditRecord | None:
    """Seal `entries` (one environment) on top of `head` and write them into `store`."""
    made: set[str] = set()
    for entry in entries:
        seq, prev = (head.seq + 1, head.hash) if head is not None else (0, GENESIS)
        head = seal(entry, seq=seq, prev_hash=prev)
        path = store.record_path(entry.environment, seq)
        if str(path.parent) not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(str(path.parent))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        with os.fdopen(fd, "wb") as f:
            f.write(encode(head))
    if head is not None:
        (path.parent.parent / ".tmp").mkdir(exist_ok=True)
        store._hint_at(head.environment, head.seq)  # the hint, as appends leave it
    return head
