"""The default file store: append-only, hash-chained, never rewritten, tamper-evident."""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from releasegate.audit.file import FileAuditStore
from releasegate.audit.record import AuditEntry, verify_chain
from tests.support.records import make_entry


def entry(version: str) -> AuditEntry:
    return make_entry(version=version)


def test_append_chains_and_reads_newest_first(tmp_path: Path) -> None:
    store = FileAuditStore(tmp_path)
    written = [store.append(entry(f"v{i}")) for i in range(5)]
    assert [r.seq for r in written] == [0, 1, 2, 3, 4]
    assert [r.version for r in store.newest("production")] == ["v4", "v3", "v2", "v1", "v0"]
    assert verify_chain(store.chain("production")) == []
    assert store.environments() == ["production"]


def test_records_are_read_only_and_never_replaced(tmp_path: Path) -> None:
    store = FileAuditStore(tmp_path)
    rec = store.append(entry("v1"))
    path = tmp_path / "production" / f"{rec.seq:012d}.json"
    assert oct(path.stat().st_mode & 0o777) == "0o444"
    with pytest.raises(FileExistsError):
        FileAuditStore._create(path, rec)


def test_an_edited_record_is_detected(tmp_path: Path) -> None:
    store = FileAuditStore(tmp_path)
    for i in range(3):
        store.append(entry(f"v{i}"))
    path = tmp_path / "production" / "000000000001.json"
    data = json.loads(path.read_text())
    data["actor"] = "mallory"
    os.chmod(path, 0o644)
    path.write_text(json.dumps(data))
    problems = verify_chain(store.chain("production"))
    assert len(problems) == 1 and "#1" in problems[0] and "edited" in problems[0]


def test_a_deleted_record_is_detected(tmp_path: Path) -> None:
    store = FileAuditStore(tmp_path)
    for i in range(3):
        store.append(entry(f"v{i}"))
    (tmp_path / "production" / "000000000001.json").unlink()
    problems = verify_chain(store.chain("production"))
    assert any("missing" in p for p in problems) and any("#2" in p for p in problems)


def _append_many(root: str, worker: int) -> None:
    store = FileAuditStore(Path(root))
    for i in range(20):
        store.append(entry(f"w{worker}-{i}"))


def test_concurrent_writers_do_not_fork_the_chain(tmp_path: Path) -> None:
    with ProcessPoolExecutor(4) as pool:
        list(pool.map(_append_many, [str(tmp_path)] * 4, range(4)))
    chain = list(FileAuditStore(tmp_path).chain("production"))
    assert [r.seq for r in chain] == list(range(80))
    assert verify_chain(chain) == []


def test_unwritable_store_is_a_clear_error(tmp_path: Path) -> None:
    from releasegate.audit.store import AuditUnavailable

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(AuditUnavailable, match="cannot write the audit record"):
        FileAuditStore(blocker).append(entry("v1"))
